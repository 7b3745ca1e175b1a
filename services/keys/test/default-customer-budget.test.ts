import { Code } from "@connectrpc/connect";
import { createLogger, parseConfig } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import type { BudgetRow, BudgetStore } from "../src/budget-store.js";
import { DefaultCustomerBudget } from "../src/default-customer-budget.js";
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

// Made with a max_budget after its end users spent.
const late = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
litellm_settings:
  max_end_user_budget_id: late-tier
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

describe("the default budget of end users made with a max_budget", () => {
  it("starts each end user's window from what it had spent: in the budget's making, or after it for those the making had no room for", async () => {
    const via = late.client();
    const key = (await via.generateKey({}, asMaster)).key;
    const [over, under] = [{ value: RESERVATION * 2.5 }, { value: RESERVATION }];
    const made = await via.createBudget(
      { budgetId: "late-tier", settings: { maxBudget: RESERVATION * 3, budgetDuration: "30d" }, endUserSpendBefore: [{ key: "in-making", ...over }, { key: "under-in-making", ...under }] },
      asMaster,
    );
    expect(made.endUserWindowStartMs).toBe(made.budget!.createdAtMs);
    await via.carryEndUserSpend({ windowStartMs: made.endUserWindowStartMs!, endUserSpend: [{ key: "after-making", ...over }, { key: "under-after-making", ...under }] }, asMaster);
    for (const endUser of ["in-making", "after-making"]) {
      await expect(ask(key, endUser, via)).rejects.toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringMatching(new RegExp(`^ExceededBudget: End User=${endUser} over budget`)) });
    }
    for (const endUser of ["under-in-making", "under-after-making", "newcomer"]) await ask(key, endUser, via);

    // A budget it had already: its end users' windows are where they were, and no spend is carried.
    const changed = await via.updateBudget({ budgetId: "late-tier", settings: { maxBudget: RESERVATION * 3.2 }, endUserSpendBefore: [{ key: "newcomer", ...over }] }, asMaster);
    expect(changed.endUserWindowStartMs).toBeUndefined();
    await ask(key, "newcomer", via);
  });

  it("is refused the spend of end users when the config names no such budget", async () => {
    await expect(fixed.client().carryEndUserSpend({ windowStartMs: 0n, endUserSpend: [{ key: "anon", value: 1 }] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
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

describe("the default budget's loads", () => {
  it("keeps what a later-started load read when an earlier one answers after it", async () => {
    const row = (budgetDuration: string): BudgetRow => ({
      budgetId: "default-tier",
      maxBudget: 1,
      softBudget: null,
      budgetDuration,
      rpmLimit: null,
      tpmLimit: null,
      maxParallelRequests: null,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    // Each read answers when the test says, with what the budget was when the read was made.
    const reads: ((rows: BudgetRow[]) => void)[] = [];
    const store = { byIds: () => new Promise<BudgetRow[]>((resolve) => reads.push(resolve)) } as unknown as BudgetStore;
    const budget = DefaultCustomerBudget.fromConfig({ max_end_user_budget_id: "default-tier" }, store, createLogger("test", "silent"))!;
    // A resync reads the budget before its budget_duration changes; the change's reload reads it after, and answers first.
    const resync = budget.load();
    const reload = budget.load();
    reads[1]!([row("30d")]);
    await reload;
    reads[0]!([row("")]);
    await resync;
    expect(budget.limitsFor("anon")?.budgetDuration).toEqual({ ms: 30 * 86_400_000 });
  });
});
