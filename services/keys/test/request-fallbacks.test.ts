import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ReservationPricing } from "../src/reservation-pricing.js";
import { asMaster, CHEAP_AND_DEAR as config, keysService, refusal } from "./support.js";

// A request's own fallbacks (the body's "fallbacks"): the key must be allowed
// each, its aliases rename them, and its reservation covers the dearest.

const client = keysService(config).client;
const pricing = new ReservationPricing(config);

let requests = 0;
const ask = (apiKey: string, fallbacks: string[]) =>
  client().authorize({ apiKey, requestId: `fallbacks-${++requests}`, model: "cheap-model", promptTokens: 10, maxTokens: 10, fallbacks });

describe("a request's fallbacks", () => {
  it("are each checked against the key's models, after its aliases", async () => {
    const made = await client().generateKey({ settings: { models: { models: ["cheap-model"] }, aliases: { aliases: [{ key: "backup", value: "cheap-model" }, { key: "sneaky", value: "dear-model" }] } } }, asMaster);
    expect(await refusal(ask(made.key, ["cheap-model", "dear-model"]))).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "This key may not use model=dear-model. It may use models=[cheap-model]",
    });
    expect(await refusal(ask(made.key, ["sneaky"]))).toMatchObject({ rawMessage: expect.stringContaining("model=dear-model (asked for as sneaky)") });
    // Renamed ones come back renamed, in order; none renamed: none listed.
    expect((await ask(made.key, ["backup", "cheap-model"])).fallbacks).toEqual(["cheap-model", "cheap-model"]);
    expect((await ask(made.key, ["cheap-model"])).fallbacks).toEqual([]);
  });

  it("are checked against the key's team's models", async () => {
    await client().createTeam({ teamId: "fallback-team", settings: { models: { models: ["cheap-model"] } } }, asMaster);
    const made = await client().generateKey({ settings: { teamId: "fallback-team" } }, asMaster);
    expect(await refusal(ask(made.key, ["dear-model"]))).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "Team=fallback-team may not use model=dear-model. It may use models=[cheap-model]",
    });
    expect((await ask(made.key, ["cheap-model"])).model).toBe("");
  });

  it("make the key's budget reserve what the dearest of them could cost", async () => {
    const cheap = pricing.maxCost("cheap-model", 10, 10);
    const dear = pricing.maxCost("dear-model", 10, 10);
    expect(dear).toBeGreaterThan(cheap);
    const made = await client().generateKey({ settings: { maxBudget: (cheap + dear) / 2 } }, asMaster);
    expect(await refusal(ask(made.key, ["dear-model"]))).toMatchObject({ code: Code.FailedPrecondition });
    const fits = await ask(made.key, ["cheap-model"]);
    expect(fits.reserved).toBe(true);
    await client().release({ requestId: `fallbacks-${requests}`, keyHash: fits.keyHash, holder: fits.holder });
  });
});
