import { ConfigError, type GatewayConfig } from "@gateway/common";
import { MasterKey } from "./master-key.js";
import { createKeysService, keysRoutes } from "./service.js";

export { createKeysService, keysRoutes, MasterKey };

export function startKeys(deps: { config: GatewayConfig }) {
  const key = deps.config.general_settings.master_key;
  if (key === undefined) {
    throw new ConfigError("general_settings.master_key (or the LITELLM_MASTER_KEY variable) must be set");
  }
  const impl = createKeysService({ masterKey: new MasterKey(key) });
  return { impl, routes: keysRoutes(impl) };
}
