import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { serviceStarter, type GatewayPlumbing } from "./support/gateway.js";
import { expectRefusal } from "./support/refusals.js";

// Limits of every level a request is held to at once (its key, team,
// organization, user, end user and tags), each its own, with many requests
// in flight over two replicas of every service but accounting (two keys
// replicas and two routers, each pair behind its own edge), and changes to
// them made while those requests run.

const DEFAULT_BUDGET = "combined-default";

let provider: FakeProvider;
let database: TestDatabase;
let bus: TestBus;
const running: RunningGateway[] = [];
let edges: [string, string];

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  bus = await createTestBus();
  // End users with no limits of their own are held to DEFAULT_BUDGET once a test makes it (the last one).
  const config = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${provider.url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  max_end_user_budget_id: ${DEFAULT_BUDGET}
general_settings:
  master_key: ${MASTER_KEY}
`);
  const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
  const start = serviceStarter(config, plumbing, running);
  const [keysA, keysB, routerA, routerB, accounting] = [await start("keys"), await start("keys"), await start("router"), await start("router"), await start("accounting")];
  edges = [
    await start("edge", { keysUrl: keysA, routerUrl: routerA, accountingUrl: accounting }),
    await start("edge", { keysUrl: keysB, routerUrl: routerB, accountingUrl: accounting }),
  ];
});

afterAll(async () => {
  for (const s of running.reverse()) await s.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

const BODY = { model: "fast-model", messages: [{ role: "user" as const, content: "combined" }], max_tokens: 10 };

/** What a request for `endUser` reserves of a budget (fast-model is gpt-4o-mini: its body's bytes as prompt tokens, and max_tokens). */
const reservationFor = (endUser: string) => Buffer.byteLength(JSON.stringify({ ...BODY, user: endUser })) * 0.15e-6 + BODY.max_tokens * 0.6e-6;

async function call<T>(method: "GET" | "POST", path: string, body?: unknown, edge = edges[0]): Promise<T> {
  const { status, json } = await admin<T>(edge, method, path, body);
  expect(status, `${path}: ${JSON.stringify(json)}`).toBe(200);
  return json;
}

/** A key in a team in an organization, owned by a user who is a member, used for a customer with a tag: each level with the limits given. */
interface Tree {
  organization: string;
  team: string;
  user: string;
  key: GeneratedKey;
  customer: string;
  tag: string;
}

let made = 0;
async function tree(limits: Partial<Record<"key" | "team" | "organization" | "user" | "customer" | "tag", Record<string, unknown>>>): Promise<Tree> {
  const n = ++made;
  const organization = (await call<{ organization_id: string }>("POST", "/organization/new", { organization_alias: `combined-${n}`, ...limits.organization })).organization_id;
  const user = `combined-user-${n}`;
  await call("POST", "/user/new", { user_id: user, ...limits.user });
  const team = (await call<{ team_id: string }>("POST", "/team/new", { organization_id: organization, members_with_roles: [{ role: "user", user_id: user }], ...limits.team })).team_id;
  const key = await call<GeneratedKey>("POST", "/key/generate", { team_id: team, user_id: user, ...limits.key });
  const customer = `combined-customer-${n}`;
  await call("POST", "/customer/new", { user_id: customer, ...limits.customer });
  const tag = `combined-tag-${n}`;
  await call("POST", "/tag/new", { name: tag, ...limits.tag });
  await knownToBoth({ organization, team, user, customer, tag });
  return { organization, team, user, key, customer, tag };
}

/**
 * Has the second keys replica read the rows the first one just made: it
 * learns of them by a push, which a burst sent at once may beat, and it
 * holds none of their limits until then. A change made there (of nothing)
 * is read back there before it is answered. (Keys it reads from Postgres
 * when it does not know them.)
 */
async function knownToBoth({ organization, team, user, customer, tag }: Omit<Tree, "key">): Promise<void> {
  await call("POST", "/organization/update", { organization_id: organization }, edges[1]);
  await call("POST", "/user/update", { user_id: user }, edges[1]);
  await call("POST", "/team/update", { team_id: team }, edges[1]);
  await call("POST", "/customer/update", { user_id: customer }, edges[1]);
  await call("POST", "/tag/update", { name: tag }, edges[1]);
}

/** The next tree's customer, whose name is in its requests' bodies (and so in what they reserve). */
const nextCustomer = () => `combined-customer-${made + 1}`;

/** A chat completion of the tree's key for its customer and tag, through `edge`; streamed when asked. */
async function ask(t: Tree, edge: string, stream = false): Promise<void> {
  const client = new OpenAI({ baseURL: `${edge}/v1`, apiKey: t.key.key, maxRetries: 0 });
  const options = { headers: { "x-litellm-tags": t.tag } };
  if (!stream) {
    await client.chat.completions.create({ ...BODY, user: t.customer }, options);
    return;
  }
  for await (const _ of await client.chat.completions.create({ ...BODY, user: t.customer, stream: true }, options));
}

/** Requests sent at once: how many were refused so far, and, once all have ended, how many were served. */
interface Burst {
  refused: number;
  served: Promise<number>;
}

/** Sends `n` requests at once, alternating between the edges, every third streamed; once all have ended, each not served must have been refused by a limit. */
function startBurst(t: Tree, n: number): Burst {
  const burst: Burst = { refused: 0, served: Promise.resolve(0) };
  const asked = Array.from({ length: n }, (_, i) =>
    ask(t, edges[i % 2]!, i % 3 === 0).catch((err: unknown) => {
      burst.refused += 1;
      throw err;
    }),
  );
  burst.served = Promise.allSettled(asked).then((results) => {
    for (const r of results) if (r.status === "rejected") expectRefusal(r.reason);
    return results.filter((r) => r.status === "fulfilled").length;
  });
  return burst;
}

/**
 * Holds every request at the provider until the returned function lets them
 * go: what a burst admits is then all in flight together when it is counted,
 * however slow the machine (none finishes and leaves room to another).
 */
function holdAtProvider(): () => void {
  let release = () => {};
  provider.behavior.held = new Promise((resolve) => (release = resolve));
  return () => {
    delete provider.behavior.held;
    release();
  };
}

/** Until the provider holds no request (an earlier test's streams a client left may still be ending there), so its count is the next burst's alone. */
function providerIdle(): Promise<true> {
  return eventually("nothing in flight at the provider", async () => (provider.inFlight === 0 ? true : undefined));
}

/** Once each of the burst's `n` requests was refused or reached the (holding) provider, beside `before` held already: how many reached it. */
async function admitted(burst: Burst, n: number, before = 0): Promise<number> {
  await eventually("each request refused or at the provider", async () => (burst.refused + provider.inFlight - before === n ? true : undefined));
  return provider.inFlight - before;
}

/** A burst of `n` held at the provider until each was admitted or refused: how many were admitted, all of them then served. */
async function heldBurst(t: Tree, n: number): Promise<number> {
  await providerIdle();
  const release = holdAtProvider();
  let burst: Burst | undefined;
  let count: number;
  try {
    burst = startBurst(t, n);
    count = await admitted(burst, n);
  } finally {
    release();
  }
  expect(await burst.served).toBe(count);
  return count;
}

/** The sum of the key's ledger rows, once there are `rows` of them. */
function ledgerOf(t: Tree, rows: number): Promise<number> {
  return eventually("the ledger to book every request served", async () => {
    const booked = await call<{ spend: number }[]>("GET", `/spend/logs?api_key=${t.key.token}`);
    return booked.length === rows ? booked.reduce((sum, row) => sum + row.spend, 0) : undefined;
  });
}

/** Each level's spend as its own /…/info route shows it. */
async function shownSpend(t: Tree): Promise<Record<string, number>> {
  return {
    key: (await call<{ info: { spend: number } }>("GET", `/key/info?key=${t.key.key}`)).info.spend,
    team: (await call<{ team_info: { spend: number } }>("GET", `/team/info?team_id=${t.team}`)).team_info.spend,
    organization: (await call<{ spend: number }>("GET", `/organization/info?organization_id=${t.organization}`)).spend,
    user: (await call<{ user_info: { spend: number } }>("GET", `/user/info?user_id=${t.user}`)).user_info.spend,
    customer: (await call<{ spend: number }>("GET", `/customer/info?end_user_id=${t.customer}`)).spend,
    tag: (await call<Record<string, { spend: number }>>("POST", "/tag/info", { names: [t.tag] }))[t.tag]!.spend,
  };
}

/** Every level shows what the ledger booked (the other replica writes its settled spend within a second). */
async function expectEveryLevelToShow(t: Tree, ledger: number): Promise<void> {
  const shows = (shown: Record<string, number>) => Object.values(shown).every((spend) => Math.abs(spend - ledger) < 1e-12);
  // What they show when they never all agree, for the failure to name the levels that do not.
  const shown = await eventually("every level to show the ledger's spend", async () => {
    const now = await shownSpend(t);
    return shows(now) ? now : undefined;
  }).catch(() => shownSpend(t));
  for (const [level, spend] of Object.entries(shown)) expect(spend, level).toBeCloseTo(ledger, 12);
}

/**
 * Four requests admitted under `budgetId` (four and a half reservations, for
 * good) and held at the provider; then the budget gets a period, which moves
 * the holder's budget to the period's window on both replicas: nothing more
 * fits there, and every level shows the four once they are booked.
 */
async function expectPeriodToCarry(t: Tree, budgetId: string): Promise<void> {
  await providerIdle();
  const release = holdAtProvider();
  let first: Burst | undefined;
  let second: Burst | undefined;
  try {
    first = startBurst(t, 12);
    expect(await admitted(first, 12)).toBe(4);
    await call("POST", "/budget/update", { budget_id: budgetId, budget_duration: "30d" }, edges[1]);
    second = startBurst(t, 12);
    expect(await admitted(second, 12, 4)).toBe(0);
  } finally {
    release();
  }
  expect(await first.served).toBe(4);
  // Each of the second burst refused by the budget, not failed otherwise.
  expect(await second.served).toBe(0);
  await expectEveryLevelToShow(t, await ledgerOf(t, 4));
}

describe("limits of every level at once, over two replicas", () => {
  const levels = ["key", "team", "organization", "customer", "tag"] as const;
  for (const tightest of levels) {
    it(`holds the ${tightest}'s budget, the tightest, and every level shows what the ledger booked`, async () => {
      const reservation = reservationFor(nextCustomer());
      const limits: Record<string, Record<string, unknown>> = Object.fromEntries(levels.map((level) => [level, { max_budget: reservation * 20 }]));
      limits["organization"] = { max_budget: reservation * 40 };
      limits[tightest] = { max_budget: reservation * 4.5 };
      // A team's budget may not pass its organization's: under the tightest organization, its teams' rate limits alone.
      if (tightest === "organization") limits["team"] = { rpm_limit: 1000 };
      const t = await tree(limits);
      const served = await heldBurst(t, 24);
      expect(served).toBe(4);
      await expectEveryLevelToShow(t, await ledgerOf(t, served));
    });
  }

  for (const holder of ["customer", "organization"] as const) {
    it(`carries the ${holder}'s spend and requests in flight when its budget's budget_duration changes`, async () => {
      const reservation = reservationFor(nextCustomer());
      const budgetId = `combined-tier-${holder}-${made + 1}`;
      await call("POST", "/budget/new", { budget_id: budgetId, max_budget: reservation * 4.5 });
      const t = await tree({ [holder]: { budget_id: budgetId } });
      await expectPeriodToCarry(t, budgetId);
    });
  }

  it("holds the tightest of several levels' parallel limits with streams aborted mid-way on both replicas, and gives every slot back", async () => {
    const t = await tree({ key: { max_parallel_requests: 10 }, team: { max_parallel_requests: 3 }, organization: { max_parallel_requests: 8 }, customer: { max_parallel_requests: 5 }, tag: { max_parallel_requests: 6 } });
    provider.behavior.chunkDelayMs = 300;
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, provider.inFlight)), 5);
    try {
      // Every other client leaves after its second chunk, the rest read their stream to the end.
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, async (_, i) => {
          const leave = new AbortController();
          const client = new OpenAI({ baseURL: `${edges[i % 2]}/v1`, apiKey: t.key.key, maxRetries: 0 });
          const stream = await client.chat.completions.create({ ...BODY, max_tokens: 50, user: t.customer, stream: true }, { headers: { "x-litellm-tags": t.tag }, signal: leave.signal });
          let chunks = 0;
          for await (const _ of stream) if (++chunks === 2 && i % 2 === 0) leave.abort();
        }),
      );
      // Those not served were refused by a parallel limit or left by their client, and failed in no other way.
      for (const r of results) if (r.status === "rejected" && !(r.reason instanceof OpenAI.APIUserAbortError)) expectRefusal(r.reason, ["rate_limit_error"]);
    } finally {
      clearInterval(watch);
      provider.behavior.chunkDelayMs = 0;
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3);
    // The team's three slots come back (an edge whose client left releases within seconds), and no more than three.
    await eventually("the team's three slots back", async () => {
      const served = await heldBurst(t, 8);
      expect(served).toBeLessThanOrEqual(3);
      return served === 3 ? true : undefined;
    });
  });

  it("holds a key's budget lowered while requests run on both replicas, and every level shows what the ledger booked", async () => {
    const reservation = reservationFor(nextCustomer());
    const t = await tree({ key: { max_budget: reservation * 100 }, team: { max_budget: reservation * 200 }, customer: { max_budget: reservation * 300 }, tag: { max_budget: reservation * 300 } });
    provider.behavior.latencyMs = 300;
    const served: { before: string[]; after: string[] } = { before: [], after: [] };
    let phase: keyof typeof served = "before";
    let change: Promise<void> | undefined;
    let stop = false;
    let lowered = 0;
    // Failures other than the budget's refusals, checked once the clients have stopped (a throw would stop one early).
    const unexpected: unknown[] = [];
    try {
      // Eight clients, half of them streaming, over both edges; they pause while the budget changes (theirs in flight go on).
      const clients = Array.from({ length: 8 }, async (_, w) => {
        while (!stop) {
          await change;
          const into = served[phase];
          const client = new OpenAI({ baseURL: `${edges[w % 2]}/v1`, apiKey: t.key.key, maxRetries: 0 });
          const options = { headers: { "x-litellm-tags": t.tag } };
          try {
            if (w % 2 === 0) {
              const { data, response } = await client.chat.completions.create({ ...BODY, user: t.customer, stream: true }, options).withResponse();
              for await (const _ of data);
              into.push(response.headers.get("x-litellm-call-id")!);
            } else {
              const { response } = await client.chat.completions.create({ ...BODY, user: t.customer }, options).withResponse();
              into.push(response.headers.get("x-litellm-call-id")!);
            }
          } catch (err) {
            const { status, type } = err as { status?: number; type?: string };
            if (status !== 400 || type !== "budget_exceeded") unexpected.push(err);
            await new Promise((resolve) => setTimeout(resolve, 30));
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 1200));
      change = (async () => {
        const { info } = await call<{ info: { spend: number } }>("GET", `/key/info?key=${t.key.key}`, undefined, edges[1]);
        // Room for three more reservations than the key had spent (this replica's part of which may lag a second).
        lowered = info.spend + 3 * reservation;
        await call("POST", "/key/update", { key: t.key.key, max_budget: lowered }, edges[1]);
        phase = "after";
      })();
      await change;
      change = undefined;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      stop = true;
      await Promise.all(clients);
    } finally {
      provider.behavior.latencyMs = 0;
    }
    expect(unexpected.map(String)).toEqual([]);
    const rows = await eventually("the ledger to book every request served", async () => {
      const booked = await call<{ request_id: string; spend: number }[]>("GET", `/spend/logs?api_key=${t.key.token}`);
      return booked.length === served.before.length + served.after.length ? booked : undefined;
    });
    const spentBy = (ids: string[]) => rows.filter((row) => ids.includes(row.request_id)).reduce((sum, row) => sum + row.spend, 0);
    const [before, after] = [spentBy(served.before), spentBy(served.after)];
    // What was admitted under the old budget may pass the new one; nothing admitted after the change may add to that.
    expect(before + after).toBeLessThanOrEqual(Math.max(lowered, before) + 1e-12);
    await expectEveryLevelToShow(t, before + after);
  });

  // Last: from here on every end user with no limits of its own is held to the default budget.
  it("carries every end user's spend and requests in flight when the default budget's budget_duration changes", async () => {
    await call("POST", "/budget/new", { budget_id: DEFAULT_BUDGET, max_budget: reservationFor(nextCustomer()) * 4.5 });
    // The second keys replica reads it with its customers by a push, which the first burst may beat; a change (of nothing) made there is read back there at once.
    await call("POST", "/budget/update", { budget_id: DEFAULT_BUDGET }, edges[1]);
    // Its customer has no limits, so the default budget holds it, under the end user's own allowances.
    const t = await tree({});
    await expectPeriodToCarry(t, DEFAULT_BUDGET);
  });
});
