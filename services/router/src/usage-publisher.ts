import { toBinary } from "@bufbuild/protobuf";
import type { Bus, Logger } from "@gateway/common";
import { UsageEventSchema, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";

export const USAGE_SUBJECT = "usage.v1";

const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 10_000;

/**
 * Publishes usage events without holding up the response: a publish that
 * fails is retried with backoff until it is stored (JetStream dedupes by the
 * request id, so a retry after a lost ack counts once). close() waits for
 * what is still pending.
 */
export class UsagePublisher {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  publish(event: UsageEvent): void {
    const data = toBinary(UsageEventSchema, event);
    const done = this.send(event.requestId, data).finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  private async send(requestId: string, data: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bus.publish(USAGE_SUBJECT, requestId, data);
        return;
      } catch (err) {
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
        this.logger.warn({ requestId, attempt, err: (err as Error).message }, "usage publish failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Resolves when every event handed over so far is stored. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
