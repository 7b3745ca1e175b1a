import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A LiteLLM duration: a fixed length, or whole calendar months (whose lengths vary). */
export type Duration = { readonly ms: number; readonly months?: undefined } | { readonly months: number; readonly ms?: undefined };

// The longest duration taken: what it adds to a date must stay a date (JavaScript's and Postgres' alike).
const MAX_YEARS = 100;
const MAX_MS = MAX_YEARS * 366 * UNIT_MS["d"]!;

/** LiteLLM's durations: "30s", "30m", "30h", "30d", "2w", "1mo"; at most 100 years. */
export function parseDuration(value: string, field: string): Duration {
  const match = /^(\d+)(mo|[smhdw])$/.exec(value.trim());
  const count = match ? Number(match[1]) : 0;
  const invalid = (message: string) => gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param: field });
  if (!match || count <= 0) throw invalid(`${field} must look like "30s", "30m", "30h", "30d", "2w" or "1mo", got "${value}"`);
  const duration: Duration = match[2] === "mo" ? { months: count } : { ms: count * (UNIT_MS[match[2] as string] as number) };
  if ((duration.months ?? 0) > MAX_YEARS * 12 || (duration.ms ?? 0) > MAX_MS) throw invalid(`${field} must be at most ${MAX_YEARS} years, got "${value}"`);
  return duration;
}

/**
 * `start` plus `times` durations. N months on is the same day of the month
 * and time of day (UTC), or that month's last day when it is shorter, as in
 * LiteLLM.
 */
export function addDuration(start: number, duration: Duration, times = 1): number {
  if (duration.months === undefined) return start + duration.ms * times;
  const from = new Date(start);
  const month = from.getUTCMonth() + duration.months * times;
  const lastDay = new Date(Date.UTC(from.getUTCFullYear(), month + 1, 0)).getUTCDate();
  return Date.UTC(from.getUTCFullYear(), month, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds());
}

/**
 * The period `now` falls in, of periods of `duration` one after another from
 * `origin`. Every boundary is counted from `origin`, so monthly periods that
 * begin on the 31st come back to the 31st after a shorter month.
 */
export function periodAt(origin: number, duration: Duration, now: number): { start: number; end: number } {
  let periods: number;
  if (duration.months === undefined) periods = Math.floor((now - origin) / duration.ms);
  else {
    const from = new Date(origin);
    const at = new Date(now);
    periods = Math.floor(((at.getUTCFullYear() - from.getUTCFullYear()) * 12 + at.getUTCMonth() - from.getUTCMonth()) / duration.months);
    // One ahead when `now` is earlier in its month than `origin`: a period starting on the 31st has not begun on the 5th.
    if (addDuration(origin, duration, periods) > now) periods -= 1;
  }
  return { start: addDuration(origin, duration, periods), end: addDuration(origin, duration, periods + 1) };
}
