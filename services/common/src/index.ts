export * from "./bus/index.js";
export { ConfigError, loadConfig, parseConfig, type GatewayConfig, type ModelEntry } from "./config.js";
export { serveConnect, connectTransport, type ConnectServer, type ServeOptions } from "./connect.js";
export { openDatabase, pgErrorCode, type Database, type DatabaseOptions, type Db } from "./database.js";
export { directClient } from "./direct-client.js";
export { describeError, gatewayError, type ErrorDetails, type GatewayErrorInit } from "./errors.js";
export { hashKey } from "./key-hash.js";
export { createLogger, type Logger } from "./logger.js";
export { costOf, deploymentPrice, listPrice, type Price, type PriceOverride } from "./pricing.js";
