export { BusClosedError, NoListenerError, type Bus, type ConsumeOptions, type Consumer, type Delivery, type SharedStore, type StoreLimits } from "./bus.js";
export { MemoryBus } from "./memory-bus.js";
export { NatsBus, type NatsBusOptions } from "./nats-bus.js";
export { releaseCodec, releaseSubject, sendRelease } from "./release.js";
export { decodeModelPrices, encodeModelPrices, MODEL_PRICES_SUBJECT } from "./model-prices.js";
