export { eventually } from "./eventually.js";
export { createTestBus, type TestBus } from "./nats.js";
export { createTestDatabase, type TestDatabase } from "./postgres.js";
export { freePort, waitForPort } from "./free-port.js";
export { startThrowawayNats, type ThrowawayNats } from "./nats-server.js";
export { startThrowawayPostgres, type ThrowawayPostgres } from "./postgres-cluster.js";
export { sameMinute } from "./minute.js";
export { TcpProxy, type ProxiedConnection, type TcpProxyHooks } from "./tcp-proxy.js";
export { StatementCuts, type StatementMark } from "./statement-cuts.js";
