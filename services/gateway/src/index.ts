export { startGateway, type RunningGateway } from "./gateway.js";
export { parseOptions, type GatewayOptions, type ServiceName } from "./options.js";
