import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "@gateway/common";
import { CheckHealthRequestSchema, type CheckHealthRequest, type CheckHealthResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import { checkHealth } from "./check-health.js";

type Health = MessageInitShape<typeof CheckHealthResponseSchema>;

const EVERY_GROUP = create(CheckHealthRequestSchema, { model: "" });

/**
 * general_settings.background_health_checks: every deployment is probed when
 * the router starts and every health_check_interval after, one round at a
 * time, and GET /health answers the latest finished round rather than
 * calling each deployment again (each router replica probes on its own).
 */
export class BackgroundHealth {
  private latest: Promise<Health>;
  private running = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly models: LiveModelList,
    intervalMs: number,
    private readonly logger: Logger,
  ) {
    this.latest = this.round();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  private async round(): Promise<Health> {
    this.running = true;
    try {
      const health = await checkHealth(this.models, EVERY_GROUP);
      const unhealthy = health.unhealthy ?? [];
      if (unhealthy.length > 0) this.logger.warn({ unhealthy: unhealthy.map((e) => e.deploymentId) }, "background health check: deployments not answering");
      return health;
    } finally {
      this.running = false;
    }
  }

  /** A new round; /health keeps the previous one until it ends. A round still running when the next is due is not doubled. */
  private async refresh(): Promise<void> {
    if (this.running) return;
    const next = this.round();
    await next;
    this.latest = next;
  }

  /** The latest round, for one model group or all (the first round, while it runs). */
  async answer(req: CheckHealthRequest): Promise<Health> {
    const { healthy = [], unhealthy = [] } = await this.latest;
    const asked = (e: { modelGroup?: string }) => req.model === "" || e.modelGroup === req.model;
    return { healthy: healthy.filter(asked), unhealthy: unhealthy.filter(asked) };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
