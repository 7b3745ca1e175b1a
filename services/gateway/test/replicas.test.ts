import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { serviceStarter, type GatewayPlumbing } from "./support/gateway.js";
import { expectRefusal } from "./support/refusals.js";

// Two keys replicas, each behind its own edge, sharing one router, one
// accounting service, one Postgres and one NATS: limits must hold across
// them and revocation must reach both.

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
  const config = fakeOpenAIConfig(provider.url);
  const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
  const start = serviceStarter(config, plumbing, running);
  const [keysA, keysB, router, accounting] = [await start("keys"), await start("keys"), await start("router"), await start("accounting")];
  edges = [
    await start("edge", { keysUrl: keysA, routerUrl: router, accountingUrl: accounting }),
    await start("edge", { keysUrl: keysB, routerUrl: router, accountingUrl: accounting }),
  ];
});

afterAll(async () => {
  for (const s of running.reverse()) await s.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

const ask = (edge: string, key: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  new OpenAI({ baseURL: `${edge}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model: "fast-model",
    messages: [{ role: "user", content: "budget" }],
    max_tokens: 10,
    ...extra,
  });

async function generate(body: Record<string, unknown>): Promise<GeneratedKey> {
  const { status, json } = await admin<GeneratedKey>(edges[0], "POST", "/key/generate", body);
  expect(status).toBe(200);
  return json;
}

/** How long the provider takes while a burst tests a limit: longer than the burst takes to be admitted. */
const HOLD_MS = 2500;

/** Sends `n` requests at once, alternating between the two edges (and the keys given); counts those served, each of the rest refused by a limit. */
async function burst(keys: string | string[], n: number): Promise<number> {
  const each = ([] as string[]).concat(keys);
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => ask(edges[i % 2] as string, each[Math.floor(i / 2) % each.length] as string)));
  for (const r of results) if (r.status === "rejected") expectRefusal(r.reason);
  return results.filter((r) => r.status === "fulfilled").length;
}

/**
 * Sends `n` requests of `key` at once, alternating between the edges, held at
 * the provider until each was admitted or refused (and `meanwhile` ran), so
 * all it admitted are in flight together; how many it admitted, each of
 * the rest refused by its parallel limit.
 */
async function heldBurst(key: string, n: number, meanwhile = async () => {}): Promise<number> {
  await eventually("nothing in flight at the provider", async () => (provider.inFlight === 0 ? true : undefined));
  let release = () => {};
  provider.behavior.held = new Promise((resolve) => (release = resolve));
  let refused = 0;
  // Checked once all have ended: a throw here would leave the count waiting for it.
  const failures: unknown[] = [];
  const asked = Array.from({ length: n }, (_, i) =>
    ask(edges[i % 2] as string, key).then(
      () => true,
      (err: unknown) => {
        refused += 1;
        failures.push(err);
        return false;
      },
    ),
  );
  try {
    await eventually("each request refused or at the provider", async () => (refused + provider.inFlight === n ? true : undefined));
    await meanwhile();
  } finally {
    delete provider.behavior.held;
    release();
  }
  const admitted = (await Promise.all(asked)).filter(Boolean).length;
  for (const err of failures) expectRefusal(err, ["rate_limit_error"]);
  return admitted;
}

/** A new team and two keys of it. */
async function team(body: Record<string, unknown>): Promise<{ teamId: string; keys: [string, string] }> {
  const { status, json } = await admin<{ team_id: string }>(edges[0], "POST", "/team/new", body);
  expect(status).toBe(200);
  const [a, b] = [await generate({ team_id: json.team_id }), await generate({ team_id: json.team_id })];
  return { teamId: json.team_id, keys: [a.key, b.key] };
}

describe("two keys replicas behind two edges", () => {
  it("serves a key made on one replica from the other at once", async () => {
    const minted = await generate({});
    const answer = await ask(edges[1], minted.key);
    expect(answer.choices[0]?.message.content).toBe("Echo: budget");
  });

  it("holds a budget across both replicas under 50 concurrent requests", async () => {
    // Long enough that every request of the burst is admitted or refused
    // before the first one finishes and settles (on a busy machine the
    // burst takes most of a second to get through six services here).
    provider.behavior.latencyMs = HOLD_MS;
    try {
      const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "budget" }], max_tokens: 10 }));
      const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
      const minted = await generate({ max_budget: reservation * 5.5 });
      expect(await burst(minted.key, 50)).toBe(5);
    } finally {
      provider.behavior.latencyMs = 0;
    }
  });

  it("holds a budget whose period changes while requests are in flight on both replicas", async () => {
    // The first four must still be held when the rest are admitted or refused, after a management call too.
    provider.behavior.latencyMs = 3 * HOLD_MS;
    try {
      const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "budget" }], max_tokens: 10 }));
      const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
      const maxBudget = reservation * 5.5;
      const minted = await generate({ max_budget: maxBudget });
      // Four admitted and held at the provider, then the budget moves to a period of its own.
      const first = burst(minted.key, 4);
      await eventually("four requests at the provider", async () => (provider.inFlight >= 4 ? true : undefined));
      expect((await admin(edges[1], "POST", "/key/update", { key: minted.key, budget_duration: "30d" })).status).toBe(200);
      // The new period holds what the old one did: one more request at most, on either replica.
      const second = burst(minted.key, 10);
      const served = (await first) + (await second);
      expect(served).toBeGreaterThanOrEqual(4);
      expect(served).toBeLessThanOrEqual(5);
      // Once booked, the key shows what the ledger holds, within its budget.
      const ledger = await eventually("the ledger to book them", async () => {
        const res = await fetch(`${edges[0]}/spend/logs?api_key=${minted.token}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
        const rows = (await res.json()) as { spend: number }[];
        return rows.length === served ? rows.reduce((sum, r) => sum + r.spend, 0) : undefined;
      });
      expect(ledger).toBeLessThanOrEqual(maxBudget);
      await eventually("the key to show the ledger's spend", async () => {
        const { json } = await admin<{ info: { spend: number } }>(edges[0], "GET", `/key/info?key=${minted.key}`);
        return Math.abs(json.info.spend - ledger) < 1e-12 ? true : undefined;
      });
    } finally {
      provider.behavior.latencyMs = 0;
    }
  });

  it("holds rpm and parallel limits across both replicas", async () => {
    const rpm = await generate({ rpm_limit: 4 });
    expect(await burst(rpm.key, 10)).toBe(4);
    provider.behavior.latencyMs = HOLD_MS;
    try {
      const parallel = await generate({ max_parallel_requests: 2 });
      expect(await burst(parallel.key, 10)).toBe(2);
    } finally {
      provider.behavior.latencyMs = 0;
    }
  });

  it("holds a max_parallel_requests changed up and down on either replica, once both have read it, with requests in flight at the first change", async () => {
    const minted = await generate({ max_parallel_requests: 6 });
    // Six held at the provider while the limit drops to two on the other replica.
    const first = heldBurst(minted.key, 12, async () => {
      expect((await admin(edges[1], "POST", "/key/update", { key: minted.key, max_parallel_requests: 2 })).status).toBe(200);
    });
    expect(await first).toBe(6);
    for (const [i, limit] of [2, 5, 3, 6, 1, 4].entries()) {
      const [changing, other] = i % 2 === 0 ? edges : [edges[1], edges[0]];
      expect((await admin(changing, "POST", "/key/update", { key: minted.key, max_parallel_requests: limit })).status).toBe(200);
      // The other replica hears of the change by a push, which a burst sent at once may beat; a change (of nothing) made there is read back there.
      expect((await admin(other, "POST", "/key/update", { key: minted.key })).status).toBe(200);
      // Never more than the new limit; all of it once the slots of the last burst are back (a replica gives back what it holds unused within a second).
      await eventually(`${limit} requests in flight at once`, async () => {
        const admitted = await heldBurst(minted.key, 12);
        expect(admitted).toBeLessThanOrEqual(limit);
        return admitted === limit ? true : undefined;
      });
    }
  });

  it("holds a team's budget and rpm across its keys and both replicas under concurrent requests", async () => {
    provider.behavior.latencyMs = HOLD_MS;
    try {
      const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "budget" }], max_tokens: 10 }));
      const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
      expect(await burst((await team({ max_budget: reservation * 5.5 })).keys, 50)).toBe(5);
    } finally {
      provider.behavior.latencyMs = 0;
    }
    expect(await burst((await team({ rpm_limit: 4 })).keys, 12)).toBe(4);
  });

  it("holds an organization's budget across its teams, their keys and both replicas under concurrent requests", async () => {
    const made = await admin<{ organization_id: string }>(edges[0], "POST", "/organization/new", { organization_alias: "replicated", max_budget: 1 });
    expect(made.status).toBe(200);
    const organizationId = made.json.organization_id;
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "budget" }], max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    expect((await admin(edges[0], "PATCH", "/organization/update", { organization_id: organizationId, max_budget: reservation * 5.5 })).status).toBe(200);
    const teams = [await team({ organization_id: organizationId }), await team({ organization_id: organizationId })];
    provider.behavior.latencyMs = HOLD_MS;
    try {
      expect(await burst(teams.flatMap((t) => t.keys), 50)).toBe(5);
    } finally {
      provider.behavior.latencyMs = 0;
    }
    // A blocked organization stops its teams' keys on both edges, though they kept the keys' answers.
    for (let i = 0; i < 5; i++) for (const edge of edges) await ask(edge, teams[0]!.keys[0]).catch((err: unknown) => expectRefusal(err, ["budget_exceeded"]));
    expect((await admin(edges[0], "PATCH", "/organization/update", { organization_id: organizationId, blocked: true, max_budget: null })).status).toBe(200);
    await eventually(
      "both edges to refuse the blocked organization's keys",
      async () => {
        // Served, or refused by the spent budget, until the change reaches an edge (the other
        // replica hears of it by a push), refused as blocked from then on: nothing else.
        const refused = await Promise.all(
          edges.map((edge) =>
            ask(edge, teams[1]!.keys[0]).then(
              () => false,
              (err: unknown) => {
                expectRefusal(err, ["authentication_error", "budget_exceeded"]);
                return (err as { status?: number }).status === 401;
              },
            ),
          ),
        );
        return refused.every(Boolean) || undefined;
      },
      1000,
    );
  });

  it("stops a blocked team's keys on both edges, though they kept the keys' answers", async () => {
    const { teamId, keys } = await team({});
    // Enough requests for both edges to be watching their keys replicas and keeping the answers.
    for (let i = 0; i < 5; i++) for (const edge of edges) for (const key of keys) await ask(edge, key);
    expect((await admin(edges[0], "POST", "/team/block", { team_id: teamId })).status).toBe(200);
    await expect(ask(edges[0], keys[1])).rejects.toMatchObject({ status: 401 });
    await eventually(
      "the other edge to refuse the blocked team's key",
      () =>
        ask(edges[1], keys[0]).then(
          () => undefined,
          (err: unknown) => {
            expectRefusal(err, ["authentication_error"]);
            return true;
          },
        ),
      1000,
    );
    expect((await admin(edges[1], "POST", "/team/unblock", { team_id: teamId })).status).toBe(200);
    await eventually(
      "the first edge to serve the team again",
      () =>
        ask(edges[0], keys[0]).then(
          () => true,
          (err: unknown) => {
            // Refused as blocked until the unblock reaches it, and for nothing else.
            expectRefusal(err, ["authentication_error"]);
            return undefined;
          },
        ),
      1000,
    );
  });

  it("keeps kept answers apart per end user, and drops them when a customer is blocked on the other edge", async () => {
    const { key } = await generate({});
    const askFor = (edge: string, endUser: string) => ask(edge, key, { user: endUser });
    expect((await admin(edges[0], "POST", "/customer/block", { user_ids: ["blocked-early"] })).status).toBe(200);
    // Enough requests for the edge to keep the key's answer for these end users.
    for (let i = 0; i < 5; i++) await askFor(edges[0], "carol");
    await expect(askFor(edges[0], "blocked-early")).rejects.toMatchObject({ status: 400 });
    for (let i = 0; i < 5; i++) await askFor(edges[0], "dave");
    expect((await admin(edges[1], "POST", "/customer/block", { user_ids: ["dave"] })).status).toBe(200);
    await eventually(
      "the first edge to refuse the newly blocked end user",
      () => askFor(edges[0], "dave").then(() => undefined, (e: { status?: number }) => (e.status === 400 ? true : undefined)),
      1000,
    );
    expect((await askFor(edges[0], "carol")).choices[0]?.message.content).toBe("Echo: budget");
  });

  it("refuses a key blocked through an edge on that edge's very next request, though it kept the key's answer", async () => {
    const minted = await generate({});
    // Enough requests for the edge to be watching the keys service and keeping the answer.
    for (let i = 0; i < 5; i++) await ask(edges[0], minted.key);
    expect((await admin(edges[0], "POST", "/key/block", { key: minted.key })).status).toBe(200);
    await expect(ask(edges[0], minted.key)).rejects.toMatchObject({ status: 401 });
    expect((await admin(edges[0], "POST", "/key/unblock", { key: minted.key })).status).toBe(200);
    expect((await ask(edges[0], minted.key)).choices[0]?.message.content).toBe("Echo: budget");
  });

  it("stops a deleted key on the other replica within a second", async () => {
    const minted = await generate({});
    await ask(edges[1], minted.key);
    expect((await admin(edges[0], "POST", "/key/delete", { keys: [minted.key] })).status).toBe(200);
    const deletedAt = Date.now();
    await eventually(
      "the other replica to refuse the key",
      () => ask(edges[1], minted.key).then(() => undefined, (e: { status?: number }) => (e.status === 401 ? true : undefined)),
      1000,
    );
    const stillWorkedForMs = Date.now() - deletedAt;
    console.info(`deleted key refused by the other replica after ${stillWorkedForMs} ms`);
    expect(stillWorkedForMs).toBeLessThan(1000);
  });
});
