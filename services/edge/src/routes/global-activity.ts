import type { SpendTotal } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { RequestContext } from "../context.js";
import { sendJson } from "../http.js";
import { readableActivity } from "./daily-activity.js";
import { groupBy } from "./global-spend.js";

// LiteLLM's request charts: GET /global/activity (requests and tokens per
// UTC day) and GET /global/activity/model (the same for each of the ten
// model groups with the most requests), from the daily totals. An internal
// user's key reads its own user's keys' only.

const TOP_MODELS = 10;

// LiteLLM labels a chart's days as "Dec 04".
const dayLabel = new Intl.DateTimeFormat("en-US", { month: "short", day: "2-digit", timeZone: "UTC" });

interface DayActivity {
  date: string;
  api_requests: number;
  total_tokens: number;
}

/** Requests and tokens per day, in order of days, and their sums. */
function chart(rows: readonly SpendTotal[]) {
  const days = new Map<string, DayActivity>();
  for (const row of rows) {
    let day = days.get(row.day);
    if (!day) days.set(row.day, (day = { date: dayLabel.format(new Date(`${row.day}T00:00:00Z`)), api_requests: 0, total_tokens: 0 }));
    day.api_requests += Number(row.requests);
    day.total_tokens += Number(row.totalTokens);
  }
  const daily_data = [...days.keys()].sort().map((key) => days.get(key)!);
  return {
    daily_data,
    sum_api_requests: daily_data.reduce((sum, d) => sum + d.api_requests, 0),
    sum_total_tokens: daily_data.reduce((sum, d) => sum + d.total_tokens, 0),
  };
}

export async function globalActivity(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, chart(await readableActivity(ctx)));
}

export async function globalActivityByModel(ctx: RequestContext): Promise<void> {
  const charts = [...groupBy(await readableActivity(ctx), (row) => row.modelGroup)].map(([model, rows]) => ({ model, ...chart(rows) }));
  sendJson(ctx.res, 200, charts.sort((a, b) => b.sum_api_requests - a.sum_api_requests).slice(0, TOP_MODELS));
}
