import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig } from "@gateway/common";
import type { AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { MASTER, RESERVATION, asMaster, clientOf, keysService, type KeysClient } from "./support.js";

// The gateway's own limits over every key (litellm_settings.max_budget and
// budget_duration, general_settings.global_max_parallel_requests), the
// master key's requests included, across replicas.

const FITS = 4;
const service = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
litellm_settings:
  max_budget: ${RESERVATION * (FITS + 0.5)}
  budget_duration: 30d
general_settings:
  master_key: ${MASTER}
`),
);
const client = service.client;
const capped = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
general_settings:
  master_key: ${MASTER}
  global_max_parallel_requests: 3
`),
);

let requests = 0;
const ask = (apiKey: string, requestId = `req-${++requests}`, via: KeysClient = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10 });
const release = (auth: AuthorizeResponse, requestId: string, cost: number, via: KeysClient = client()) =>
  via.release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });
const newKey = async (via: KeysClient = client()) => (await via.generateKey({}, asMaster)).key;

describe("the gateway's own limits", () => {
  it("admit no more requests at once, over every key, the master key and replicas, than the gateway's budget allows", async () => {
    const keys = [await newKey(), await newKey(), MASTER];
    const other = await service.replica();
    try {
      const replicas = [client(), clientOf(other)];
      const results = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => ask(keys[i % 3]!, `burst-${i}`, replicas[Math.floor(i / 3) % 2]!)));
      const held = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ auth: r.value, id: `burst-${i}` }] : []));
      expect(held).toHaveLength(FITS);
      expect(held.every(({ auth }) => auth.reserved)).toBe(true);
      for (const r of results) {
        if (r.status === "rejected") expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringMatching(/^Budget has been exceeded! Current cost: /) });
      }
      // Settled at a tenth of what each reserved, the budget has room for more.
      await Promise.all(held.map(({ auth, id }) => release(auth, id, RESERVATION / 10)));
    } finally {
      await other.stop();
    }
    const again = await ask(await newKey(), "after");
    expect(again.reserved).toBe(true);
    const budget = await client().getGatewayBudget({}, asMaster);
    expect(budget).toMatchObject({ maxBudget: RESERVATION * (FITS + 0.5), budgetDuration: "30d" });
    expect(budget.spend).toBeCloseTo(FITS * (RESERVATION / 10), 12);
    // Thirty-day periods from the unix epoch.
    expect(Number(budget.budgetResetAtMs) % (30 * 86_400_000)).toBe(0);
    expect(Number(budget.budgetResetAtMs)).toBeGreaterThan(Date.now());
    await expect(client().getGatewayBudget({}, {})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("cap the requests in flight over every key and the master key", async () => {
    const via = capped.client();
    const key = await newKey(via);
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => ask(i % 2 === 0 ? key : MASTER, `parallel-${i}`, via)));
    const held = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ auth: r.value, id: `parallel-${i}` }] : []));
    expect(held).toHaveLength(3);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: Code.ResourceExhausted, rawMessage: "max_parallel_requests (3) reached for this gateway" } });
    await Promise.all(held.map(({ auth, id }) => release(auth, id, 0, via)));
    expect((await ask(MASTER, "after-release", via)).reserved).toBe(true);
    // No budget: nothing to show.
    const budget = await via.getGatewayBudget({}, asMaster);
    expect(budget.maxBudget).toBeUndefined();
    expect(budget.spend).toBeUndefined();
  });
});
