export { eventually } from "./eventually.js";
export { createTestBus, type TestBus } from "./nats.js";
export { createTestDatabase, type TestDatabase } from "./postgres.js";
