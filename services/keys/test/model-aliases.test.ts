import { Code } from "@connectrpc/connect";
import { entryObject } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { ReservationPricing } from "../src/reservation-pricing.js";
import { asMaster, CHEAP_AND_DEAR as config, clientOf, keysService, refusal } from "./support.js";

const service = keysService(config);
const client = service.client;
const pricing = new ReservationPricing(config);

let requests = 0;
const ask = (apiKey: string, model: string, via = client()) => via.authorize({ apiKey, requestId: `alias-${++requests}`, model, promptTokens: 10, maxTokens: 10 });

describe("model aliases", () => {
  it("rename a key's model to the group its aliases name, and access is checked on that group", async () => {
    const made = await client().generateKey(
      { settings: { models: { models: ["cheap-model"] }, aliases: { aliases: [{ key: "gpt-4o", value: "cheap-model" }, { key: "sneaky", value: "dear-model" }] } } },
      asMaster,
    );
    expect(entryObject(made.info!.aliases)).toEqual({ "gpt-4o": "cheap-model", sneaky: "dear-model" });
    expect((await ask(made.key, "gpt-4o")).model).toBe("cheap-model");
    // A name no alias holds is answered as it is.
    expect((await ask(made.key, "cheap-model")).model).toBe("");
    // An alias does not widen what the key may use.
    expect(await refusal(ask(made.key, "sneaky"))).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "This key may not use model=dear-model (asked for as sneaky). It may use models=[cheap-model]",
    });
  });

  it("reserve a budget at the price of the group called", async () => {
    const cheap = pricing.maxCost("cheap-model", 10, 10);
    const dear = pricing.maxCost("dear-model", 10, 10);
    expect(dear).toBeGreaterThan(cheap);
    const made = await client().generateKey({ settings: { maxBudget: (cheap + dear) / 2, aliases: { aliases: [{ key: "cheap-model", value: "dear-model" }] } } }, asMaster);
    // The name is the cheap group's, the call is the dear one's: what it could cost is more than the budget.
    expect(await refusal(ask(made.key, "cheap-model"))).toMatchObject({ code: Code.FailedPrecondition });
    const plain = await client().generateKey({ settings: { maxBudget: (cheap + dear) / 2 } }, asMaster);
    expect((await ask(plain.key, "cheap-model")).reserved).toBe(true);
  });

  it("take a team's model_aliases first, then the key's, and follow a team's change on every replica", async () => {
    const { team } = await client().createTeam(
      { teamId: "aliased", settings: { models: { models: ["cheap-model"] }, modelAliases: { aliases: [{ key: "team-name", value: "cheap-model" }, { key: "gpt-4o", value: "middle" }] } } },
      asMaster,
    );
    expect(entryObject(team!.modelAliases)).toEqual({ "team-name": "cheap-model", "gpt-4o": "middle" });
    const made = await client().generateKey({ settings: { teamId: "aliased", aliases: { aliases: [{ key: "middle", value: "cheap-model" }] } } }, asMaster);
    expect((await ask(made.key, "team-name")).model).toBe("cheap-model");
    expect((await ask(made.key, "gpt-4o")).model).toBe("cheap-model");
    // For model lists: every name either map renames, with the group it calls.
    const lookup = await client().authorize({ apiKey: made.key, requestId: "alias-lookup", access: Access.LOOKUP });
    expect(entryObject(lookup.modelAliases)).toEqual({ "team-name": "cheap-model", "gpt-4o": "cheap-model", middle: "cheap-model" });
    expect((await ask(made.key, "team-name")).modelAliases).toEqual([]);
    const other = await service.replica();
    try {
      expect((await ask(made.key, "team-name", clientOf(other))).model).toBe("cheap-model");
      // The team's models hold for what its alias names.
      await client().updateTeam({ teamId: "aliased", settings: { modelAliases: { aliases: [{ key: "team-name", value: "dear-model" }] } } }, asMaster);
      for (const via of [client(), clientOf(other)]) {
        expect(await refusal(ask(made.key, "team-name", via))).toMatchObject({
          code: Code.Unauthenticated,
          rawMessage: "Team=aliased may not use model=dear-model (asked for as team-name). It may use models=[cheap-model]",
        });
        // Aliases the team no longer holds rename nothing.
        expect(await refusal(ask(made.key, "gpt-4o", via))).toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringContaining("model=gpt-4o.") });
      }
    } finally {
      await other.stop();
    }
    await client().updateTeam({ teamId: "aliased", settings: { modelAliases: { aliases: [] } } }, asMaster);
    expect((await client().getTeam({ teamId: "aliased" }, asMaster)).team?.modelAliases).toEqual([]);
  });

  it("are replaced whole by an update, and refused when a name or group is empty", async () => {
    const made = await client().generateKey({ settings: { aliases: { aliases: [{ key: "a", value: "cheap-model" }, { key: "b", value: "cheap-model" }] } } }, asMaster);
    const ref = { ref: { case: "key" as const, value: made.key } };
    const { key } = await client().updateKey({ ref, settings: { aliases: { aliases: [{ key: "c", value: "dear-model" }] } } }, asMaster);
    expect(entryObject(key!.aliases)).toEqual({ c: "dear-model" });
    expect((await ask(made.key, "c")).model).toBe("dear-model");
    expect((await ask(made.key, "a")).model).toBe("");
    for (const aliases of [[{ key: "", value: "cheap-model" }], [{ key: "d", value: "" }]]) {
      expect(await refusal(client().updateKey({ ref, settings: { aliases: { aliases } } }, asMaster))).toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: "aliases must map model names to model groups, each 1 to 256 characters",
      });
    }
  });
});
