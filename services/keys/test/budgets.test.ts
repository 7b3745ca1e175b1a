import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Access, type AuthorizeResponse, type Budget, type BudgetSettingsSchema, type Customer, type CustomerSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it, vi } from "vitest";
import { RESERVATION, asMaster, clientOf, keysService, type KeysClient } from "./support.js";

// Budgets (LiteLLM's budget table, its customers' pricing tiers): a customer
// naming one is held to its limits, each customer on its own, for every limit
// the customer does not set itself; a change reaches every replica.

const service = keysService();
const client = service.client;

async function createBudget(budgetId: string, settings: MessageInitShape<typeof BudgetSettingsSchema> = {}): Promise<Budget> {
  return (await client().createBudget({ budgetId, settings }, asMaster)).budget!;
}

async function createCustomer(userId: string, settings: MessageInitShape<typeof CustomerSettingsSchema> = {}): Promise<Customer> {
  return (await client().createCustomer({ userId, settings }, asMaster)).customer!;
}

const getCustomer = async (userId: string): Promise<Customer> => (await client().getCustomer({ userId }, asMaster)).customer!;
const newKey = async (): Promise<string> => (await client().generateKey({}, asMaster)).key;

let requests = 0;
const ask = (apiKey: string, endUser: string, via: KeysClient = client(), requestId = `req-${++requests}`): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10, access: Access.INFERENCE, endUser });

const release = (auth: AuthorizeResponse, requestId: string, cost = 0) => client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });

const refusedWith = (code: Code, message: string | RegExp) => expect.objectContaining({ code, rawMessage: typeof message === "string" ? message : expect.stringMatching(message) });

describe("budget management", () => {
  it("creates, lists, reads, updates and deletes budgets", async () => {
    const made = await createBudget("crud-tier", { maxBudget: 4, softBudget: 3, budgetDuration: "30d", rpmLimit: 10, tpmLimit: 1000, maxParallelRequests: 2 });
    expect(made).toMatchObject({ budgetId: "crud-tier", maxBudget: 4, softBudget: 3, budgetDuration: "30d", rpmLimit: 10, tpmLimit: 1000, maxParallelRequests: 2 });
    const named = await createBudget("", { rpmLimit: 1 });
    expect(named.budgetId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(createBudget("crud-tier")).rejects.toThrow(/Budget id=crud-tier already exists/);

    const listed = (await client().listBudgets({}, asMaster)).budgets.map((b) => b.budgetId);
    expect(listed).toEqual(expect.arrayContaining(["crud-tier", named.budgetId]));
    expect((await client().getBudgets({ budgetIds: ["crud-tier", "no-such-tier"] }, asMaster)).budgets.map((b) => b.budgetId)).toEqual(["crud-tier"]);

    const { budget: updated } = await client().updateBudget({ budgetId: "crud-tier", settings: { maxBudget: 8, clear: ["rpm_limit", "soft_budget"] } }, asMaster);
    expect(updated).toMatchObject({ maxBudget: 8, budgetDuration: "30d", tpmLimit: 1000 });
    expect(updated!.rpmLimit).toBeUndefined();
    expect(updated!.softBudget).toBeUndefined();
    await expect(client().updateBudget({ budgetId: "no-such-tier", settings: {} }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client().updateBudget({ budgetId: "crud-tier", settings: { budgetDuration: "fortnightly" } }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });

    expect((await client().deleteBudget({ budgetId: "crud-tier" }, asMaster)).budget?.budgetId).toBe("crud-tier");
    await expect(client().deleteBudget({ budgetId: "crud-tier" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("are made and changed with the master key only", async () => {
    const key = await newKey();
    const asKey = { headers: { authorization: `Bearer ${key}` } };
    await expect(client().createBudget({ budgetId: "not-mine" }, asKey)).rejects.toMatchObject({ code: Code.PermissionDenied });
  });
});

describe("customers on a budget", () => {
  it("hold each customer to the budget's rate limit on its own, with the customer's own limits first", async () => {
    await sameMinute();
    await createBudget("free-tier", { rpmLimit: 1 });
    await createCustomer("tier-a", { budgetId: "free-tier" });
    await createCustomer("tier-b", { budgetId: "free-tier" });
    await createCustomer("tier-c", { budgetId: "free-tier", rpmLimit: 3 });
    expect(await getCustomer("tier-a")).toMatchObject({ budgetId: "free-tier", rpmLimit: 1 });
    const key = await newKey();
    await ask(key, "tier-a");
    await expect(ask(key, "tier-a")).rejects.toEqual(refusedWith(Code.ResourceExhausted, "rpm limit (1) reached for this customer"));
    await ask(key, "tier-b");
    for (let i = 0; i < 3; i++) await ask(key, "tier-c");
    await expect(ask(key, "tier-c")).rejects.toEqual(refusedWith(Code.ResourceExhausted, "rpm limit (3) reached for this customer"));
  });

  it("take a budget's change on every replica", async () => {
    await sameMinute();
    await createBudget("paid-tier", { rpmLimit: 1 });
    await createCustomer("upgraded", { budgetId: "paid-tier" });
    const key = await newKey();
    const other = await service.replica();
    try {
      await ask(key, "upgraded", clientOf(other));
      await expect(ask(key, "upgraded", clientOf(other))).rejects.toMatchObject({ code: Code.ResourceExhausted });
      // At once where it was made; on the other replica when its push arrives.
      await client().updateBudget({ budgetId: "paid-tier", settings: { rpmLimit: 5 } }, asMaster);
      await expect(ask(key, "upgraded")).resolves.toMatchObject({ rateLimit: { limitRequests: 5 } });
      await vi.waitFor(() => expect(ask(key, "upgraded", clientOf(other))).resolves.toMatchObject({ rateLimit: { limitRequests: 5 } }));
      // Moved off the budget, the customer holds no limits.
      await client().updateCustomer({ userId: "upgraded", settings: { clear: ["budget_id"] } }, asMaster);
      expect((await getCustomer("upgraded")).budgetId).toBe("");
      await vi.waitFor(() => expect(ask(key, "upgraded", clientOf(other))).resolves.toMatchObject({ reserved: false }));
    } finally {
      await other.stop();
    }
  });

  it("admit no more requests at once, across replicas, than the customer's budget from its tier can reserve", async () => {
    const fits = 4;
    await createBudget("metered-tier", { maxBudget: RESERVATION * (fits + 0.5), budgetDuration: "30d" });
    await createCustomer("metered", { budgetId: "metered-tier" });
    const key = await newKey();
    const other = await service.replica();
    try {
      const replicas = [client(), clientOf(other)];
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => ask(key, "metered", replicas[i % 2], `tier-burst-${i}`)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringMatching(/^ExceededBudget: End User=metered /) });
      }
      await Promise.all(results.map((r, i) => (r.status === "fulfilled" ? release(r.value, `tier-burst-${i}`, RESERVATION / 2) : undefined)));
    } finally {
      await other.stop();
    }
    expect((await getCustomer("metered")).spend).toBeCloseTo((fits * RESERVATION) / 2, 12);
  });

  it("count what each customer and organization had spent when the budget gains a max_budget, as the edge read it", async () => {
    await createBudget("capped-later", { rpmLimit: 100 });
    await createCustomer("spent-before", { budgetId: "capped-later" });
    await createCustomer("came-after-the-read", { budgetId: "capped-later" });
    await client().createOrganization({ organizationId: "spent-before-org", settings: { organizationAlias: "spent-before-org", budgetId: "capped-later" } }, asMaster);
    const spendBefore = { customerSpendBefore: [{ key: "spent-before", value: 10 }], organizationSpendBefore: [{ key: "spent-before-org", value: 4 }] };
    await client().updateBudget({ budgetId: "capped-later", settings: { maxBudget: 10 }, ...spendBefore }, asMaster);
    expect((await getCustomer("spent-before")).spend).toBeCloseTo(10, 9);
    const organization = (await client().getOrganization({ organizationId: "spent-before-org" }, asMaster)).organization!;
    expect(organization.spend).toBeCloseTo(4, 9);
    // One the edge did not read starts from nothing, as before.
    expect((await getCustomer("came-after-the-read")).spend).toBe(0);
    const key = await newKey();
    await expect(ask(key, "spent-before")).rejects.toEqual(refusedWith(Code.FailedPrecondition, /^ExceededBudget: End User=spent-before over budget. Spend=10,/));
    await expect(ask(key, "came-after-the-read")).resolves.toMatchObject({ reserved: true });
  });

  it("are listed alone, with their organizations, when a listing names the budget", async () => {
    await createBudget("listed-tier");
    await createBudget("other-tier");
    await createCustomer("listed-a", { budgetId: "listed-tier" });
    await createCustomer("listed-other", { budgetId: "other-tier" });
    await createCustomer("listed-none");
    await createCustomer("listed-b", { rpmLimit: 5, budgetId: "listed-tier" });
    const organization = (organizationId: string, budgetId?: string) =>
      client().createOrganization({ organizationId, settings: { organizationAlias: organizationId, budgetId } }, asMaster);
    await organization("listed-org", "listed-tier");
    await organization("listed-other-org", "other-tier");
    await organization("listed-none-org");
    await client().createTeam({ teamId: "listed-org-team", settings: { organizationId: "listed-org" } }, asMaster);
    await client().createTeam({ teamId: "listed-other-team", settings: { organizationId: "listed-other-org" } }, asMaster);

    const customers = async (budgetId: string) => (await client().listCustomers({ budgetId }, asMaster)).customers.map((c) => c.userId);
    expect(await customers("listed-tier")).toEqual(["listed-a", "listed-b"]);
    expect(await customers("no-such-tier")).toEqual([]);
    expect(await customers("")).toEqual(expect.arrayContaining(["listed-a", "listed-other", "listed-none", "listed-b"]));
    const onBudget = await client().listOrganizations({ budgetId: "listed-tier" }, asMaster);
    expect(onBudget.organizations.map((o) => o.organizationId)).toEqual(["listed-org"]);
    expect(onBudget.teams.map((t) => t.teamId)).toEqual(["listed-org-team"]);
    const every = (await client().listOrganizations({}, asMaster)).organizations.map((o) => o.organizationId);
    expect(every).toEqual(expect.arrayContaining(["listed-org", "listed-other-org", "listed-none-org"]));

    // A member who does not read everything sees only its own organizations on the budget.
    await client().createUser({ userId: "listed-member" }, asMaster);
    for (const organizationId of ["listed-other-org", "listed-none-org"]) {
      await client().addOrganizationMembers({ organizationId, membersJson: '[{"role":"internal_user","user_id":"listed-member"}]' }, asMaster);
    }
    const member = { headers: { authorization: `Bearer ${(await client().generateKey({ settings: { userId: "listed-member" } }, asMaster)).key}` } };
    expect((await client().listOrganizations({ budgetId: "other-tier" }, member)).organizations.map((o) => o.organizationId)).toEqual(["listed-other-org"]);
    expect((await client().listOrganizations({ budgetId: "listed-tier" }, member)).organizations).toEqual([]);
  });

  it("refuse an unknown budget_id, and a budget's deletion while a customer names it", async () => {
    await expect(createCustomer("nowhere", { budgetId: "no-such-tier" })).rejects.toEqual(refusedWith(Code.InvalidArgument, /budget_id=no-such-tier does not exist/));
    await createBudget("in-use");
    await createCustomer("user-of-tier", { budgetId: "in-use" });
    await expect(client().updateCustomer({ userId: "user-of-tier", settings: { budgetId: "no-such-tier" } }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client().deleteBudget({ budgetId: "in-use" }, asMaster)).rejects.toEqual(refusedWith(Code.InvalidArgument, /is the budget_id of customers/));
    await client().deleteCustomers({ userIds: ["user-of-tier"] }, asMaster);
    await client().deleteBudget({ budgetId: "in-use" }, asMaster);
  });
});
