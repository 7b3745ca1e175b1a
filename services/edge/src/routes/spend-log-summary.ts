import type { SpendLogDay } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { DAY_MS, isoDay } from "../days.js";

/** One day of LiteLLM's summarized /spend/logs: its spend, by user and by model, and by key hash (keys of their own). */
type SummaryDay = { startTime: string; spend: number; users: Record<string, number>; models: Record<string, number> } & Record<string, unknown>;

/**
 * LiteLLM's answer to /spend/logs given start_date and end_date: a day's
 * totals per day with spend, then each day after the last one up to
 * `lastDayMs` at zero. `rows` come by day.
 */
export function spendLogSummary(rows: readonly SpendLogDay[], lastDayMs: number): SummaryDay[] {
  const days: SummaryDay[] = [];
  for (const row of rows) {
    let day = days.at(-1);
    if (day?.startTime !== row.day) {
      day = { startTime: row.day, spend: 0, users: {}, models: {} };
      days.push(day);
    }
    day.spend += row.spend;
    day[row.keyHash] = ((day[row.keyHash] as number | undefined) ?? 0) + row.spend;
    day.users[row.userId] = (day.users[row.userId] ?? 0) + row.spend;
    day.models[row.model] = (day.models[row.model] ?? 0) + row.spend;
  }
  const last = days.at(-1);
  if (last) {
    for (let ms = Date.parse(`${last.startTime}T00:00:00Z`) + DAY_MS; ms <= lastDayMs; ms += DAY_MS) {
      days.push({ startTime: isoDay(ms), spend: 0, users: {}, models: {} });
    }
  }
  return days;
}
