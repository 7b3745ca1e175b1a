export type { Bus, ConsumeOptions, Consumer, Delivery, SharedStore, StoreLimits } from "./bus.js";
export { MemoryBus } from "./memory-bus.js";
export { NatsBus, type NatsBusOptions } from "./nats-bus.js";
export { releaseCodec, releaseSubject } from "./release.js";
export { decodeModelPrices, encodeModelPrices, MODEL_PRICES_SUBJECT } from "./model-prices.js";
