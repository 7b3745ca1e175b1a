import type { Bus, GatewayConfig, Logger } from "@gateway/common";
import { ModelGroups } from "./config/model-groups.js";
import { SUPPORTED_PROVIDERS } from "./providers/index.js";
import { createRouterService, routerRoutes } from "./service.js";
import { UsagePublisher, USAGE_SUBJECT } from "./usage-publisher.js";

export { createRouterService, routerRoutes, ModelGroups, SUPPORTED_PROVIDERS, USAGE_SUBJECT };

export function startRouter(deps: { config: GatewayConfig; bus: Bus; logger: Logger }) {
  const groups = ModelGroups.fromConfig(deps.config, SUPPORTED_PROVIDERS);
  const publisher = new UsagePublisher(deps.bus, deps.logger);
  const impl = createRouterService({ groups: () => groups, publisher, logger: deps.logger });
  return {
    impl,
    routes: routerRoutes(impl),
    /** Waits until every usage event of finished requests is stored. */
    flush: () => publisher.flush(),
  };
}
