import { Code } from "@connectrpc/connect";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { RESERVATION, asMaster, clientOf, keysService, refusal, type KeysClient } from "./support.js";

// A keys replica stopped gracefully while requests it admitted are still
// running: their parallel slots stay taken until they are released (their
// Releases reach it over the bus through the other replica), so the other
// replica admits no more than the limit meanwhile, and their budgets settle
// to what they cost.

const service = keysService();
const client = service.client;

const ask = (via: KeysClient, apiKey: string, requestId: string): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10, access: Access.INFERENCE });

const spendOf = async (key: string) => (await client().getKey({ ref: { ref: { case: "key", value: key } } }, asMaster)).key?.spend;

describe("a keys replica stopping with requests in flight", () => {
  it("keeps their parallel slots taken until they are released through the other replica, and settles their budget", async () => {
    const { key } = await client().generateKey({ settings: { maxParallelRequests: 2, maxBudget: 1 } }, asMaster);
    const stopping = await service.replica();
    const admitted = await ask(clientOf(stopping), key, "stop-1");
    await ask(client(), key, "stop-2");
    const stopped = stopping.stop(Date.now() + 10_000);
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    expect((await refusal(ask(client(), key, "stop-3"))).code).toBe(Code.ResourceExhausted);
    // Its edge's Release reaches the replica still running, which hands it on.
    await client().release({ requestId: "stop-1", keyHash: admitted.keyHash, holder: admitted.holder, cost: 0.01 });
    await stopped;
    // The store's refusal of stop-3 stands for a quarter second on this replica.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await ask(client(), key, "stop-3");
    await client().release({ requestId: "stop-2", keyHash: admitted.keyHash, holder: "", cost: 0.02 });
    await client().release({ requestId: "stop-3", keyHash: admitted.keyHash, holder: "", cost: 0.03 });
    expect(await spendOf(key)).toBeCloseTo(0.06, 12);
  });

  it("settles what is not released by its deadline as fully used, and leaves its parallel slots taken", async () => {
    const { key } = await client().generateKey({ settings: { maxParallelRequests: 1, maxBudget: 1 } }, asMaster);
    const stopping = await service.replica();
    await ask(clientOf(stopping), key, "late-1");
    await stopping.stop(Date.now() + 200);
    // The call may still be running: no other replica may admit another in its place.
    expect((await refusal(ask(client(), key, "late-2"))).code).toBe(Code.ResourceExhausted);
    expect(await spendOf(key)).toBeCloseTo(RESERVATION, 12);
  });
});
