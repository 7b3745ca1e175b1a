import { Code } from "@connectrpc/connect";
import { parseConfig } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import { MASTER, RESERVATION, asMaster, keysService, type KeysClient } from "./support.js";

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

// litellm_settings.max_end_user_budget: dollars each such end user may spend, for good.
const fixed = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
litellm_settings:
  max_end_user_budget: ${RESERVATION * 1.5}
general_settings:
  master_key: ${MASTER}
`),
);

let requests = 0;
const ask = (apiKey: string, endUser: string, via: KeysClient = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId: `req-${++requests}`, model: "fast-model", promptTokens: 10, maxTokens: 10, access: Access.INFERENCE, endUser });

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

describe("max_end_user_budget", () => {
  it("holds each end user without limits of its own to that many dollars, each on its own", async () => {
    const key = (await fixed.client().generateKey({}, asMaster)).key;
    await fixed.client().createCustomer({ userId: "with-rpm", settings: { rpmLimit: 5 } }, asMaster);
    await ask(key, "anon", fixed.client());
    await expect(ask(key, "anon", fixed.client())).rejects.toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringMatching(/^ExceededBudget: End User=anon over budget/) });
    await ask(key, "someone-else", fixed.client());
    for (let i = 0; i < 2; i++) await ask(key, "with-rpm", fixed.client());
  });
});
