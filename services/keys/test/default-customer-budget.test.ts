import { Code } from "@connectrpc/connect";
import { parseConfig } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import { MASTER, asMaster, keysService } from "./support.js";

// litellm_settings.max_end_user_budget_id: every end user a request names is
// held to that budget when it has no limits of its own, each on its own.

const service = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
litellm_settings:
  max_end_user_budget_id: default-tier
general_settings:
  master_key: ${MASTER}
`),
);
const client = service.client;

let requests = 0;
const ask = (apiKey: string, endUser: string): Promise<AuthorizeResponse> =>
  client().authorize({ apiKey, requestId: `req-${++requests}`, model: "fast-model", promptTokens: 10, maxTokens: 10, access: Access.INFERENCE, endUser });

describe("the default budget of end users", () => {
  it("holds each end user without limits of its own to it once it exists, and no one else", async () => {
    await sameMinute();
    const key = (await client().generateKey({}, asMaster)).key;
    // Named in config.yaml but not made yet: nobody is held to it.
    await expect(ask(key, "early")).resolves.toMatchObject({ reserved: false });
    await client().createBudget({ budgetId: "default-tier", settings: { rpmLimit: 1 } }, asMaster);
    await client().createCustomer({ userId: "plain" }, asMaster);
    await client().createCustomer({ userId: "own-limits", settings: { rpmLimit: 3 } }, asMaster);

    for (const endUser of ["anon-1", "anon-2", "plain"]) {
      await ask(key, endUser);
      await expect(ask(key, endUser)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "rpm limit (1) reached for this customer" });
    }
    // The master key's requests too, as in LiteLLM.
    await expect(ask(MASTER, "anon-1")).rejects.toMatchObject({ code: Code.ResourceExhausted });
    for (let i = 0; i < 3; i++) await ask(key, "own-limits");
    await expect(ask(key, "")).resolves.toMatchObject({ reserved: false });

    await client().updateBudget({ budgetId: "default-tier", settings: { rpmLimit: 2 } }, asMaster);
    await expect(ask(key, "anon-1")).resolves.toMatchObject({ rateLimit: { limitRequests: 2, remainingRequests: 0 } });
  });
});
