export { AllowedIps } from "./allowed-ips.js";
export { AuthCache } from "./auth-cache.js";
export type { EdgeOptions } from "./context.js";
export type { Peers } from "./peers.js";
export { createEdgeServer, type EdgeServer } from "./server.js";
