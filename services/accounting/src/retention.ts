import type { GatewayConfig, Logger } from "@gateway/common";
import { dayOf, type Partitions } from "./partitions.js";

// A month is counted as its longest, 31 days: retention keeps at least the period asked for.
const UNIT_MS: Record<string, number> = { mo: 2_678_400_000, w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
const DEFAULT_INTERVAL_MS = UNIT_MS["d"]!;
/** How long stored prompts live when the config names no period of their own. */
const DEFAULT_PROMPTS_MS = 7 * UNIT_MS["d"]!;
// setInterval treats anything longer than this as 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds in a LiteLLM duration ("1mo", "2w", "7d", "24h", "60m", "3600s"; the config has checked the form). */
export function durationMs(text: string): number {
  const [, count, unit] = /^(\d+)(\D+)$/.exec(text)!;
  return Number(count) * UNIT_MS[unit!]!;
}

/** How long spend logs and stored prompts are kept; undefined keeps them for good. */
export interface RetentionSettings {
  spendLogsMs: number | undefined;
  payloadsMs: number | undefined;
  /** How often old partitions are looked for. */
  intervalMs: number;
}

export function retentionSettings(general: GatewayConfig["general_settings"]): RetentionSettings {
  const spendLogsMs = general.maximum_spend_logs_retention_period && durationMs(general.maximum_spend_logs_retention_period);
  const promptsMs = general.maximum_spend_logs_prompts_retention_period
    ? durationMs(general.maximum_spend_logs_prompts_retention_period)
    : DEFAULT_PROMPTS_MS;
  return {
    spendLogsMs: spendLogsMs || undefined,
    // A prompt never outlives its spend log.
    payloadsMs: Math.min(promptsMs, spendLogsMs || Infinity),
    intervalMs: general.maximum_spend_logs_retention_interval ? durationMs(general.maximum_spend_logs_retention_interval) : DEFAULT_INTERVAL_MS,
  };
}

/**
 * Drops every daily partition whose whole day is older than its table's
 * period: a partition goes at once, never row by row, so retention costs no
 * vacuum and holds no lock on the rows being booked. The daily totals stay,
 * so keys' spend and the reports are unchanged. Safe to run on every
 * replica at once.
 */
export async function applyRetention(partitions: Partitions, settings: RetentionSettings, nowMs: number): Promise<string[]> {
  const dropped: string[] = [];
  if (settings.spendLogsMs !== undefined) {
    dropped.push(...(await partitions.dropBefore("spend_logs", dayOf(nowMs - settings.spendLogsMs))));
  }
  if (settings.payloadsMs !== undefined) {
    dropped.push(...(await partitions.dropBefore("spend_log_payloads", dayOf(nowMs - settings.payloadsMs))));
  }
  return dropped;
}

/** Applies retention now and then every interval; returns a stop function. */
export function scheduleRetention(partitions: Partitions, settings: RetentionSettings, logger: Logger): () => Promise<void> {
  if (settings.spendLogsMs === undefined && settings.payloadsMs === undefined) return async () => {};
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = applyRetention(partitions, settings, Date.now()).then(
      (dropped) => {
        if (dropped.length > 0) logger.info({ dropped }, "dropped spend log partitions past their retention");
      },
      (err: unknown) => logger.error({ err }, "spend log retention failed; will try again next interval"),
    );
  };
  run();
  const timer = setInterval(run, Math.min(settings.intervalMs, MAX_TIMER_MS));
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
