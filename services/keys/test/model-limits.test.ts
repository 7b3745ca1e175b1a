import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Access, type AuthorizeResponse, type KeySettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import { RESERVATION, asMaster, clientOf, keysService, type KeysClient } from "./support.js";

// A key's limits for one model group (LiteLLM's model_rpm_limit,
// model_tpm_limit and model_max_budget): held for requests to that group,
// besides the key's own limits, across replicas and requests in flight.

const service = keysService();
const client = service.client;

async function newKey(settings: MessageInitShape<typeof KeySettingsSchema>): Promise<string> {
  return (await client().generateKey({ settings }, asMaster)).key;
}

let requests = 0;
const ask = (apiKey: string, model = "fast-model", requestId = `req-${++requests}`, via: KeysClient = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model, promptTokens: 10, maxTokens: 10, access: Access.INFERENCE });

const release = (auth: AuthorizeResponse, requestId: string, cost = 0) => client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });

describe("a key's limits per model group", () => {
  it("holds requests to that model group to its rpm, and not requests to others", async () => {
    await sameMinute();
    const key = await newKey({ modelRpmLimit: { counts: [{ key: "fast-model", value: 2 }] } });
    await ask(key);
    const second = await ask(key);
    expect(second).toMatchObject({ reserved: true, rateLimit: { limitRequests: 2, remainingRequests: 0 } });
    await expect(ask(key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "rpm limit (2) reached for this key's model" });
    await expect(ask(key, "other-model")).resolves.toMatchObject({ reserved: false });
  });

  it("holds tokens a minute to model_tpm_limit, and follows an alias to its group", async () => {
    await sameMinute();
    // Each request reserves its prompt (10 bytes: 3 tokens) and max_tokens (10).
    const key = await newKey({ modelTpmLimit: { counts: [{ key: "fast-model", value: 20 }] }, aliases: { aliases: [{ key: "gpt-4o", value: "fast-model" }] } });
    await ask(key, "gpt-4o");
    await expect(ask(key, "fast-model")).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "tpm limit (20) reached for this key's model" });
  });

  it("admits no more requests at once, across replicas, than the model group's budget can reserve, and counts what they cost", async () => {
    const fits = 5;
    const key = await newKey({ modelMaxBudget: { budgets: [{ key: "fast-model", value: { budgetLimit: RESERVATION * (fits + 0.5), timePeriod: "30d" } }] } });
    const other = await service.replica();
    const burst = async (round: string) => {
      const replicas = [client(), clientOf(other)];
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => ask(key, "fast-model", `${round}-${i}`, replicas[i % 2]!)));
      for (const r of results) {
        if (r.status === "rejected") expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringMatching(/^Budget has been exceeded! Model=fast-model Current cost: /) });
      }
      return results;
    };
    try {
      const first = await burst("burst");
      expect(first.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      // Each used half what it reserved: what is left fits three more.
      await Promise.all(first.map((r, i) => (r.status === "fulfilled" ? release(r.value, `burst-${i}`, RESERVATION / 2) : undefined)));
      const second = await burst("again");
      expect(second.filter((r) => r.status === "fulfilled")).toHaveLength(3);
      await Promise.all(second.map((r, i) => (r.status === "fulfilled" ? release(r.value, `again-${i}`) : undefined)));
      // Other model groups are not held to it.
      await expect(ask(key, "other-model")).resolves.toMatchObject({ reserved: false });
    } finally {
      await other.stop();
    }
  });

  it("are shown, replaced and cleared by key updates, and refused when malformed", async () => {
    await sameMinute();
    const { key, info } = await client().generateKey({ settings: { modelRpmLimit: { counts: [{ key: "fast-model", value: 1 }] }, modelMaxBudget: { budgets: [{ key: "fast-model", value: { budgetLimit: 3, timePeriod: "1d" } }] } } }, asMaster);
    const ref = { ref: { case: "keyHash" as const, value: info!.keyHash } };
    const shown = async () => (await client().getKey({ ref }, asMaster)).key!;
    expect(await shown()).toMatchObject({ modelRpmLimit: [{ key: "fast-model", value: 1 }], modelTpmLimit: [], modelMaxBudget: [{ key: "fast-model", value: { budgetLimit: 3, timePeriod: "1d" } }] });
    await ask(key);
    await expect(ask(key)).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await client().updateKey({ ref, settings: { modelRpmLimit: { counts: [{ key: "fast-model", value: 5 }] } } }, asMaster);
    await expect(ask(key)).resolves.toMatchObject({ rateLimit: { limitRequests: 5 } });
    await client().updateKey({ ref, settings: { clear: ["model_rpm_limit", "model_max_budget"] } }, asMaster);
    expect(await shown()).toMatchObject({ modelRpmLimit: [], modelMaxBudget: [] });
    await expect(ask(key)).resolves.toMatchObject({ reserved: false });

    const refused = (settings: MessageInitShape<typeof KeySettingsSchema>) => client().generateKey({ settings }, asMaster);
    await expect(refused({ modelMaxBudget: { budgets: [{ key: "fast-model", value: { budgetLimit: -1, timePeriod: "" } }] } })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(refused({ modelMaxBudget: { budgets: [{ key: "fast-model", value: { budgetLimit: 1, timePeriod: "fortnightly" } }] } })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(refused({ modelRpmLimit: { counts: [{ key: "", value: 1 }] } })).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringContaining("model_rpm_limit") });
  });
});
