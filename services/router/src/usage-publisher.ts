import type { MessageInitShape } from "@bufbuild/protobuf";
import { FailureRun, metrics, usageEventCodec, type Bus, type Logger } from "@gateway/common";
import { UsageStatus, type UsageEventSchema } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { Outcome } from "./outcome.js";
import { Outbox, type OutboxEntry, type OutboxTicket } from "./outbox.js";

export const USAGE_SUBJECT = "usage.v1";

/** A usage event's fields: encoded as they are, with no message built first. */
type UsageEventInit = MessageInitShape<typeof UsageEventSchema>;

const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 10_000;
/** Default bound on the outbox's disk use. */
export const DEFAULT_OUTBOX_BYTES = 256 * 2 ** 20;

export interface UsagePublisherOptions {
  /** Where unsent events are kept on disk; without it they are kept in memory only. */
  outboxDir?: string | undefined;
  maxOutboxBytes?: number;
  /** general_settings.store_prompts_in_spend_logs: events carry the request's messages and the response. */
  storePrompts?: boolean;
  /** litellm_settings.disable_end_user_cost_tracking (negated): events name the end user a request was made for. */
  bookEndUsers?: boolean;
}

/**
 * Publishes usage events without holding up the response. Each event is
 * first appended to the on-disk outbox, as it is handed over (before the
 * answer it records leaves, so a crash cannot lose an answered request's
 * event), then published; a publish that fails or is not acknowledged is
 * retried with backoff until JetStream stores it, and only then is the
 * event settled in the outbox. Events a crash left in the outbox are
 * published again at start. JetStream dedupes by the request id, so a retry
 * after a lost ack counts once.
 */
export class UsagePublisher {
  private readonly pending = new Set<Promise<void>>();
  private readonly outbox: Outbox | undefined;
  private closed = false;
  private outboxFull = false;
  /** Events being published that the outbox does not hold (it is full, or there is none). */
  private memoryOnly = 0;
  // An outage fails every event in flight: logged once, not per event and attempt.
  private readonly failures: FailureRun;
  readonly storePrompts: boolean;
  readonly bookEndUsers: boolean;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    options: UsagePublisherOptions = {},
  ) {
    this.storePrompts = options.storePrompts ?? false;
    this.bookEndUsers = options.bookEndUsers ?? true;
    this.failures = new FailureRun(logger, "usage publishes", "warn");
    if (options.outboxDir === undefined) return;
    this.outbox = Outbox.open(options.outboxDir, options.maxOutboxBytes ?? DEFAULT_OUTBOX_BYTES);
    const replay = this.outbox.takeReplay();
    if (replay.length > 0) logger.info({ events: replay.length }, "publishing usage events left in the outbox");
    for (const { entry, ticket } of replay) this.track(this.send(entry.id, entry.data, ticket));
  }

  /**
   * Publishes a finished request's usage event, and counts it in the
   * metrics with `labels`. The event is in the outbox when this returns
   * (one write, a few microseconds), and then published.
   */
  publish(event: UsageEventInit, labels: MetricLabels = NO_LABELS): void {
    keepTokensStorable(event);
    countRequest(event, labels);
    const entry = { id: event.requestId ?? "", data: usageEventCodec.encode(event) };
    this.track(this.send(entry.id, entry.data, this.keep(entry)));
  }

  private keep(entry: OutboxEntry): OutboxTicket | undefined {
    if (!this.outbox) return undefined;
    let ticket: OutboxTicket | undefined;
    try {
      ticket = this.outbox.append(entry);
    } catch (err) {
      this.logger.error({ requestId: entry.id, err: (err as Error).message }, "cannot write the usage outbox; this event is kept in memory only");
      return undefined;
    }
    const full = ticket === undefined;
    if (full && !this.outboxFull) {
      this.logger.error({ bytes: this.outbox.size }, "usage outbox is full; new usage events are kept in memory only until it drains");
    }
    this.outboxFull = full;
    return ticket;
  }

  private track(sending: Promise<void>): void {
    const done = sending.finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  private async send(requestId: string, data: Uint8Array, ticket: OutboxTicket | undefined): Promise<void> {
    if (!ticket) this.memoryOnly++;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.bus.publish(USAGE_SUBJECT, requestId, data);
          if (ticket) this.outbox?.settle(ticket);
          this.failures.succeeded();
          return;
        } catch (err) {
          const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
          this.failures.failed({ requestId, err: (err as Error).message }, "usage publishes are failing; each is retried with backoff");
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    } finally {
      if (!ticket) this.memoryOnly--;
    }
  }

  /** Resolves when every event handed over so far is stored. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Stops retrying and closes the outbox. What is not stored yet stays in the
   * outbox (when there is one) for the next start.
   */
  close(): void {
    this.closed = true;
    this.outbox?.close();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Events handed over and not yet stored that would be lost with this process: neither published nor in the outbox. */
  get unsaved(): number {
    return this.memoryOnly;
  }
}

/** A Timestamp's fields, without making the message (an event is encoded from its fields). */
export function timestamp(ms: number): { seconds: bigint; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** What the metrics label a request with beyond its usage event. */
export interface MetricLabels {
  /**
   * The model_name configured for the deployment that answered ("" when
   * none did): the event's model group is the client's word (a wildcard
   * group answers any name), and labels must stay few.
   */
  modelGroup: string;
  /** That deployment's api_base; "" for none. */
  apiBase: string;
  teamAlias: string;
  /** How the answering provider call went and the fallbacks before it (the call's Outcome); read only for LiteLLM's metrics. */
  call: AnsweringCall;
}

/** The parts of a call's Outcome that LiteLLM's latency, rate-limit and fallback metrics read. */
export type AnsweringCall = Pick<Outcome, "apiMs" | "firstTokenMs" | "rateLimits" | "fallbacks">;

const NO_LABELS: MetricLabels = { modelGroup: "", apiBase: "", teamAlias: "", call: {} };

/** A provider's count of what is left in its rate-limit window, from OpenAI's or Anthropic's header; undefined when it sent none. */
function remaining(headers: Record<string, string> | undefined, openai: string, anthropic: string): number | undefined {
  const value = headers?.[openai] ?? headers?.[anthropic];
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The most tokens of a kind a ledger row holds: its columns are Postgres
 * integers. A call's own counts stay far below (the router takes a
 * provider's count as at most 2^28); the sums booked for finished batches
 * can pass it, and such a row was refused by Postgres, its cost lost with it
 * (past 2^32, the event's uint32 fields kept the low bits).
 */
export const LEDGER_MOST_TOKENS = 2 ** 31 - 1;

/** Caps the event's token counts at what the ledger holds, in place; its cost stays whole. */
function keepTokensStorable(event: UsageEventInit): void {
  const most = LEDGER_MOST_TOKENS;
  const { promptTokens = 0, completionTokens = 0, totalTokens = 0, cacheReadInputTokens = 0, cacheCreationInputTokens = 0 } = event;
  if (promptTokens <= most && completionTokens <= most && totalTokens <= most && cacheReadInputTokens <= most && cacheCreationInputTokens <= most) return;
  event.promptTokens = Math.min(promptTokens, most);
  event.completionTokens = Math.min(completionTokens, most);
  event.totalTokens = Math.min(totalTokens, most);
  event.cacheReadInputTokens = Math.min(cacheReadInputTokens, most);
  event.cacheCreationInputTokens = Math.min(cacheCreationInputTokens, most);
}

function countRequest(event: UsageEventInit, labels: MetricLabels): void {
  const success = event.status === UsageStatus.SUCCESS;
  const deployment = event.deploymentId ?? "";
  const cacheHit = event.cacheHit ?? false;
  metrics.request({
    modelGroup: labels.modelGroup,
    deployment,
    callType: event.callType ?? "",
    success,
    errorType: event.errorType ?? "",
    latencyMs: event.latencyMs ?? 0,
    promptTokens: event.promptTokens ?? 0,
    completionTokens: event.completionTokens ?? 0,
    spendUsd: event.cost ?? 0,
    cacheHit,
  });
  // Built only when served: a wide object per request showed as 40-60 MB more memory under load.
  if (!metrics.servesLiteLLM) return;
  metrics.liteLLMRequest({
    keyHash: event.keyHash ?? "",
    keyAlias: event.keyAlias ?? "",
    teamId: event.teamId ?? "",
    teamAlias: labels.teamAlias,
    userId: event.userId ?? "",
    endUser: event.endUser ?? "",
    modelGroup: labels.modelGroup,
    // A cached answer called no deployment.
    deployment: cacheHit ? "" : deployment,
    providerModel: event.providerModel ?? "",
    provider: event.provider ?? "",
    apiBase: labels.apiBase,
    success,
    httpStatus: event.httpStatus ?? 200,
    errorType: event.errorType ?? "",
    latencyMs: event.latencyMs ?? 0,
    requestedModel: event.originalModelGroup ?? "",
    fallbacks: labels.call.fallbacks,
    apiMs: labels.call.apiMs ?? 0,
    firstTokenMs: labels.call.firstTokenMs ?? 0,
    remainingRequests: remaining(labels.call.rateLimits, "x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining"),
    remainingTokens: remaining(labels.call.rateLimits, "x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining"),
    promptTokens: event.promptTokens ?? 0,
    completionTokens: event.completionTokens ?? 0,
    spendUsd: event.cost ?? 0,
  });
}
