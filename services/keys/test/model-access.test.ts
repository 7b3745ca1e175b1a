import { Code } from "@connectrpc/connect";
import { encodeModelPrices, MODEL_PRICES_SUBJECT, parseConfig } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { MASTER, asMaster, keysService } from "./support.js";

// LiteLLM's model access groups (model_info.access_groups) and its names for
// every model ("all-proxy-models", "all-team-models") in keys' and teams'
// models, from config.yaml and from the model lists routers send.

const models = (extra = "") => `
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
    model_info: { access_groups: [beta-models, cheap] }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o }
${extra}
general_settings:
  master_key: ${MASTER}
`;
const config = parseConfig(models());
const service = keysService(config);
const client = service.client;
const bus = service.bus;
let requests = 0;
const ask = (apiKey: string, model: string) => client().authorize({ apiKey, model, requestId: `r-${++requests}`, promptTokens: 10, maxTokens: 10 });
const keyWith = async (settings: Parameters<ReturnType<typeof client>["generateKey"]>[0]["settings"]) => (await client().generateKey({ settings }, asMaster)).key;

describe("model access groups", () => {
  it("let a key given a group's name use the group's models, and list them", async () => {
    const key = await keyWith({ models: { models: ["beta-models"] } });
    expect((await ask(key, "fast-model")).keyHash).toBeTruthy();
    await expect(ask(key, "smart-model")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect((await client().authorize({ apiKey: key, access: Access.LOOKUP })).models).toEqual(["fast-model"]);
  });

  it("read all-proxy-models as every model, and all-team-models as the team's", async () => {
    const every = await keyWith({ models: { models: ["all-proxy-models"] } });
    expect((await ask(every, "smart-model")).keyHash).toBeTruthy();
    await client().createTeam({ teamId: "cheap-team", settings: { models: { models: ["cheap"] } } }, asMaster);
    const teamKey = await keyWith({ teamId: "cheap-team", models: { models: ["all-team-models"] } });
    expect((await ask(teamKey, "fast-model")).models).toEqual(["fast-model"]);
    await expect(ask(teamKey, "smart-model")).rejects.toMatchObject({ code: Code.Unauthenticated });
    // A key put in the team may name the team's models through the group.
    expect((await client().generateKey({ settings: { teamId: "cheap-team", models: { models: ["fast-model"] } } }, asMaster)).info?.teamId).toBe("cheap-team");
  });

  it("bound a user's own keys by the groups in the user's models", async () => {
    await client().createUser({ userId: "grouped", settings: { models: { models: ["beta-models"] } } }, asMaster);
    const own = await keyWith({ userId: "grouped" });
    expect((await client().generateKey({ settings: { models: { models: ["fast-model"] } } }, { headers: { authorization: `Bearer ${own}` } })).info?.models).toEqual([
      "fast-model",
    ]);
    await expect(client().generateKey({ settings: { models: { models: ["smart-model"] } } }, { headers: { authorization: `Bearer ${own}` } })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  it("follow the model lists routers send, with models added at run time", async () => {
    const key = await keyWith({ models: { models: ["beta-models"] } });
    await expect(ask(key, "new-model")).rejects.toMatchObject({ code: Code.Unauthenticated });
    const added = parseConfig(models("  - model_name: new-model\n    litellm_params: { model: openai/gpt-4.1 }\n    model_info: { access_groups: [beta-models] }\n"));
    const watcher = client().watchKeys({})[Symbol.asyncIterator]();
    try {
      expect((await watcher.next()).value).toMatchObject({ all: true });
      bus.broadcast(MODEL_PRICES_SUBJECT, encodeModelPrices(config, added.model_list.slice(2)));
      // Callers that keep answers forget them: the models a key may use changed.
      expect((await watcher.next()).value).toMatchObject({ all: true, keyHash: "" });
    } finally {
      await watcher.return?.();
    }
    expect((await ask(key, "new-model")).keyHash).toBeTruthy();
    expect((await client().authorize({ apiKey: key, access: Access.LOOKUP })).models).toEqual(["fast-model", "new-model"]);
  });
});
