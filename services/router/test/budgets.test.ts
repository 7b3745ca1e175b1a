import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Allowances, BudgetSpend, ConfigError, createLogger, forgettingOps, openDatabase, parseConfig, type Database } from "@gateway/common";
import { planWithoutSeqScans } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RouterBudgets, type BudgetHold, type OverBudget } from "../src/budgets.js";
import type { Deployment } from "../src/config/deployment.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { BudgetAllowanceStore } from "../src/db/budget-allowance-store.js";
import { budgetAllowanceOps } from "../src/db/schema.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";

// Provider and deployment budgets of two router replicas over one (embedded)
// Postgres: what they reserve together never passes a budget.

let database: Database;
const logger = createLogger("test", "silent");
const DAY = 86_400_000;
// A clock stopped in the middle of a UTC day.
let clock = 20_000 * DAY + DAY / 2;
const now = () => clock;

beforeAll(async () => {
  database = await openDatabase({});
  await database.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "router");
});

afterAll(() => database?.close());

let ids = 0;
/** A deployment priced at $0.001 a prompt token and $0.002 an output token, with these litellm_params and router_settings. */
function deployment(params: string, routerSettings = "{}"): Deployment {
  const config = parseConfig(`
model_list:
  - model_name: m
    litellm_params: { model: openai/priced, api_base: "http://x/v1", input_cost_per_token: 0.001, output_cost_per_token: 0.002, ${params} }
    model_info: { id: "d${++ids}" }
router_settings: ${routerSettings}
`);
  return ModelGroups.fromConfig(config, SUPPORTED_PROVIDERS).resolve("m")!.deployments[0]!;
}

function replica(): RouterBudgets {
  const store = new BudgetAllowanceStore(database.db);
  return new RouterBudgets(new Allowances(store, logger), new BudgetSpend(store, logger), now);
}

const isHeld = (r: readonly BudgetHold[] | OverBudget): r is readonly BudgetHold[] => Array.isArray(r);
// 100 prompt bytes and 50 output tokens: $0.10 + $0.10.
const RESERVATION = 0.2;

describe("router budgets", () => {
  it("reserves nothing for a deployment without budgets", async () => {
    const d = deployment("rpm: 5");
    expect(d.budgets).toBeUndefined();
    expect(await replica().reserve(d, 100, 50, 1)).toEqual([]);
  });

  it("reserves the output once for each answer a call asks for", async () => {
    // $0.10 of prompt and three answers of $0.10: one such call fits in $0.45, a second does not.
    const d = deployment("max_budget: 0.45");
    const budgets = replica();
    const first = await budgets.reserve(d, 100, 50, 3);
    expect(isHeld(first) && first[0]!.amount).toBe(400_000_000);
    expect(isHeld(await budgets.reserve(d, 100, 50, 1))).toBe(false);
  });

  it("admits no more calls at once across replicas than a deployment's budget can reserve, and settles to what they cost", async () => {
    const d = deployment("max_budget: 1.1, budget_duration: 1d");
    const replicas = [replica(), replica()];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => replicas[i % 2]!.reserve(d, 100, 50, 1)));
    const held = results.filter(isHeld);
    expect(held).toHaveLength(5);
    const refused = results.find((r) => !isHeld(r)) as OverBudget;
    expect(refused.budget.name).toBe(`deployment ${d.id}`);
    expect(refused.endsAt).toBe(20_001 * DAY);
    // Each call cost a quarter of its reservation: the rest is free again, on every replica.
    held.forEach((holds, i) => replicas[i % 2]!.settle(holds, RESERVATION / 4));
    // A replica's state writes what it settled, then reads every replica's.
    await replicas[1]!.state(d.budgets!.budgets);
    const [state] = await replicas[0]!.state(d.budgets!.budgets);
    expect(state!.spend).toBeCloseTo(5 * (RESERVATION / 4), 12);
    expect(state!.resetAt).toBe(20_001 * DAY);
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => replicas[i % 2]!.reserve(d, 100, 50, 1)));
    // (1.1 - 0.25) / 0.2: four more.
    expect(again.filter(isHeld)).toHaveLength(4);
    for (const r of replicas) await r.close();
  });

  it("holds every deployment of a provider to the provider's budget, and a call to both budgets", async () => {
    const providerBudget = "{ provider_budget_config: { openai: { budget_limit: 0.5, time_period: 1d } } }";
    const a = deployment("max_budget: 10", providerBudget);
    const b = deployment("weight: 1", providerBudget);
    expect(a.budgets!.budgets.map((x) => x.name)).toEqual(["provider openai", `deployment ${a.id}`]);
    const budgets = replica();
    const first = await budgets.reserve(a, 100, 50, 1);
    const second = await budgets.reserve(b, 100, 50, 1);
    expect([isHeld(first), isHeld(second)]).toEqual([true, true]);
    const third = await budgets.reserve(b, 100, 50, 1);
    expect(third).toMatchObject({ budget: { name: "provider openai" } });
    // Given back unused (the call was never made), the provider has room again.
    budgets.release(first as BudgetHold[]);
    expect(isHeld(await budgets.reserve(b, 100, 50, 1))).toBe(true);
    await budgets.close();
  });

  it("starts each period afresh, and holds a budget without a duration for good", async () => {
    const daily = deployment("max_budget: 0.3, budget_duration: 1d");
    const forever = deployment("max_budget: 0.3");
    const budgets = replica();
    for (const d of [daily, forever]) {
      budgets.settle((await budgets.reserve(d, 100, 50, 1)) as BudgetHold[], RESERVATION);
      expect(isHeld(await budgets.reserve(d, 100, 50, 1))).toBe(false);
    }
    clock += DAY;
    expect(isHeld(await budgets.reserve(daily, 100, 50, 1))).toBe(true);
    expect(isHeld(await budgets.reserve(forever, 100, 50, 1))).toBe(false);
    expect((await budgets.state(forever.budgets!.budgets))[0]).toEqual({ spend: RESERVATION, resetAt: undefined });
    await budgets.close();
  });

  it("adds a period's spend once per write, however often the write is tried, and a writer's later writes too", async () => {
    const store = new BudgetAllowanceStore(database.db);
    const ref = { subject: `deployment/spend-writes-${++ids}`, windowStart: 0 };
    const writer = "router-test-writer";
    await store.addSpend(ref, 0.5, { writer, seq: 1 });
    // Tried again: its connection closed after Postgres made it, say.
    await store.addSpend(ref, 0.5, { writer, seq: 1 });
    await store.addSpend(ref, 0.25, { writer, seq: 2 });
    await store.addSpend(ref, 0.125, { writer: `${writer}-2`, seq: 1 });
    expect(await store.spend([ref])).toEqual([0.875]);
  });

  it("makes a charge or give-back once per operation, however often it is tried, and no take under an operation asked about before it was made", async () => {
    const store = new BudgetAllowanceStore(database.db);
    const ref = { subject: `deployment/allowance-ops-${++ids}`, windowStart: 0 };
    const taken = randomUUID();
    expect(await store.take(ref, 50, 100, taken)).toBe(50);
    expect(await store.applied(taken)).toBe(true);
    // Each tried again: its connection closed after Postgres made it, say.
    const [charge, giveBack] = [randomUUID(), randomUUID()];
    for (let i = 0; i < 2; i++) await store.charge(ref, 10, charge);
    for (let i = 0; i < 2; i++) await store.giveBack(ref, 20, giveBack);
    // A take whose answer was lost, asked about before Postgres had it: it can no longer be made.
    const late = randomUUID();
    expect(await store.applied(late)).toBe(false);
    await expect(store.take(ref, 1, 100, late)).rejects.toThrow();
    expect(await store.take(ref, 60, 100, randomUUID())).toBe(100);
    await store.forgetOld(0);
    expect(await store.applied(taken)).toBe(false);
  });

  it("finds the operations it forgets through an index on their age, not by reading a day of them", async () => {
    expect(await planWithoutSeqScans(database.db, forgettingOps(budgetAllowanceOps, DAY))).toContain("budget_allowance_ops_made_at_idx");
  });

  it("refuses a config whose budget duration it cannot read", () => {
    expect(() => deployment("max_budget: 1, budget_duration: sometimes")).toThrow(ConfigError);
    expect(() => deployment("weight: 1", "{ provider_budget_config: { openai: { budget_limit: 1, time_period: fortnightly } } }")).toThrow(ConfigError);
  });
});
