import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { parseConfig } from "@gateway/common";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { applyRetention, Ledger, retentionSettings } from "../src/index.js";
import { DAY_MS } from "../src/partitions.js";
import { accountingClient } from "./support/client.js";
import { openLedgerDatabase, type LedgerDatabase } from "./support/ledger-database.js";
import { usageEvent } from "./support/usage-events.js";

const NOW = Date.parse("2026-06-15T10:00:00Z");
const daysAgo = (days: number) => timestampFromMs(NOW - days * DAY_MS);

function settings(general: string) {
  return retentionSettings(parseConfig(`general_settings:\n${general}`).general_settings);
}

describe("retentionSettings", () => {
  test("reads LiteLLM's durations, and never keeps prompts longer than their spend logs", () => {
    expect(settings("  maximum_spend_logs_retention_period: 30d\n  maximum_spend_logs_retention_interval: 12h")).toEqual({
      spendLogsMs: 30 * DAY_MS,
      payloadsMs: 7 * DAY_MS,
      intervalMs: DAY_MS / 2,
    });
    expect(settings("  maximum_spend_logs_retention_period: 2d\n  maximum_spend_logs_prompts_retention_period: 3600s").payloadsMs).toBe(3_600_000);
    expect(settings("  maximum_spend_logs_retention_period: 60m").payloadsMs).toBe(3_600_000);
    expect(settings("  store_prompts_in_spend_logs: true").spendLogsMs).toBeUndefined();
    expect(settings("  maximum_spend_logs_retention_period: 2w").spendLogsMs).toBe(14 * DAY_MS);
    // A month as its longest: at least the month asked for is kept.
    expect(settings("  maximum_spend_logs_retention_period: 1mo").spendLogsMs).toBe(31 * DAY_MS);
  });

  test("refuses a duration it cannot read", () => {
    expect(() => settings("  maximum_spend_logs_retention_period: 1 week")).toThrow(/maximum_spend_logs_retention_period/);
    expect(() => settings("  maximum_spend_logs_retention_period: 1 month")).toThrow(/"1mo", "2w", "7d"/);
  });
});

describe("applyRetention", () => {
  let ledgerDb: LedgerDatabase;
  let ledger: Ledger;
  beforeAll(async () => {
    ledgerDb = await openLedgerDatabase({ storePrompts: true });
    ledger = ledgerDb.ledger;
  });
  afterAll(async () => {
    await ledgerDb?.close();
  });
  beforeEach(async () => {
    await ledgerDb.clear();
  });

  const withPrompt = (days: number) => usageEvent({ keyHash: "7".repeat(64), cost: 1, startTime: daysAgo(days), messages: "[]", response: "{}" });

  test("drops whole days past each table's period and keeps the daily totals", async () => {
    const [recent, today] = [withPrompt(3), withPrompt(0)];
    await ledger.record([withPrompt(40), withPrompt(31), recent, today]);

    const dropped = await applyRetention(ledger.partitions, settings("  maximum_spend_logs_retention_period: 30d\n  maximum_spend_logs_prompts_retention_period: 1d"), NOW);

    // The day 31 days ago ended 30 days and 10 hours ago: past 30 days, so it goes; 3 days ago stays for spend logs but not for prompts.
    expect(dropped.sort()).toEqual([
      "spend_log_payloads_p20260506",
      "spend_log_payloads_p20260515",
      "spend_log_payloads_p20260612",
      "spend_logs_p20260506",
      "spend_logs_p20260515",
    ]);
    expect(await ledgerDb.requestIds()).toEqual([recent.requestId, today.requestId].sort());
    expect((await ledger.partitions.list("spend_log_payloads")).map((p) => p.name)).toEqual(["spend_log_payloads_p20260615"]);
    expect((await ledger.spendByKey(["7".repeat(64)])).get("7".repeat(64))).toBe(4);
    // The end user's and the tags' all-time spend too (each event carries one end user and two tags).
    expect((await ledger.spendByEndUser(["customer-1"])).get("customer-1")).toBe(4);
    const { tags } = await accountingClient(ledgerDb).tagSpend({});
    expect(tags.map((t) => [t.tag, t.spend, Number(t.requests)])).toEqual([
      ["env:prod", 4, 4],
      ["team:search", 4, 4],
    ]);
  });

  test("keeps everything when no period is set", async () => {
    await ledger.record([withPrompt(400)]);
    expect(await applyRetention(ledger.partitions, settings("  store_prompts_in_spend_logs: true\n  maximum_spend_logs_prompts_retention_period: 1000d"), NOW)).toEqual([]);
    expect(await ledgerDb.requestIds()).toHaveLength(1);
  });

  test("books a late event for a dropped day again, in a new partition", async () => {
    await ledger.record([withPrompt(40)]);
    // Another replica drops the partition this ledger remembers having made.
    const elsewhere = new Ledger(ledgerDb.database.db);
    await applyRetention(elsewhere.partitions, settings("  maximum_spend_logs_retention_period: 30d"), NOW);
    const late = withPrompt(40);
    expect(await ledger.record([late])).toBe(1);
    expect(await ledgerDb.requestIds()).toEqual([late.requestId]);
  });
});
