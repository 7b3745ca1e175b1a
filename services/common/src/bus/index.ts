export type { Bus, ConsumeOptions, Consumer, Delivery } from "./bus.js";
export { MemoryBus } from "./memory-bus.js";
export { NatsBus, type NatsBusOptions } from "./nats-bus.js";
export { releaseSubject } from "./release-subject.js";
