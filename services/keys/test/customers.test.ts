import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Access, type AuthorizeResponse, type Customer, type CustomerSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it, vi } from "vitest";
import { MASTER, RESERVATION, asMaster, clientOf, keysService, type KeysClient } from "./support.js";

const service = keysService();
const client = service.client;

async function createCustomer(userId: string, settings: MessageInitShape<typeof CustomerSettingsSchema> = {}): Promise<Customer> {
  const { customer } = await client().createCustomer({ userId, settings }, asMaster);
  return customer!;
}

const getCustomer = async (userId: string): Promise<Customer> => (await client().getCustomer({ userId }, asMaster)).customer!;

/** A new virtual key without limits of its own. */
const newKey = async (): Promise<string> => (await client().generateKey({}, asMaster)).key;

interface Ask {
  endUser?: string;
  requestId?: string;
  via?: KeysClient;
  access?: Access;
}

let requests = 0;
// A model call, as the edge asks: ACCESS_INFERENCE, for the end user named.
const ask = (apiKey: string, { endUser = "", requestId = `req-${++requests}`, via = client(), access = Access.INFERENCE }: Ask = {}): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10, access, endUser });

const release = (auth: AuthorizeResponse, requestId: string, cost = 0) =>
  client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });

// A message starting with `text`, as clients match LiteLLM's refusals.
const startingWith = (text: string) => expect.stringMatching(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
const blockedMessage = (userId: string) => `User blocked from making LLM API Calls. User=${userId}`;

describe("customer management", () => {
  it("creates a customer with its settings, and one without any", async () => {
    const made = await createCustomer("crud", {
      alias: "Acme",
      maxBudget: 5,
      budgetDuration: "30d",
      rpmLimit: 10,
      tpmLimit: 1000,
      maxParallelRequests: 2,
      allowedModelRegion: "eu",
      defaultModel: "fast-model",
    });
    expect(made).toMatchObject({
      userId: "crud",
      alias: "Acme",
      blocked: false,
      maxBudget: 5,
      budgetDuration: "30d",
      rpmLimit: 10,
      tpmLimit: 1000,
      maxParallelRequests: 2,
      allowedModelRegion: "eu",
      defaultModel: "fast-model",
      spend: 0,
    });
    expect(Number(made.budgetResetAtMs)).toBeGreaterThan(Date.now());
    const plain = await createCustomer("plain");
    expect(plain).toMatchObject({ userId: "plain", alias: "", blocked: false, budgetDuration: "", allowedModelRegion: "", defaultModel: "" });
    for (const field of ["maxBudget", "budgetResetAtMs", "rpmLimit", "tpmLimit", "maxParallelRequests", "spend"] as const) {
      expect(plain[field]).toBeUndefined();
    }
    expect(await getCustomer("crud")).toEqual(made);
  });

  it("refuses a missing or taken id and an unknown region, making nothing", async () => {
    await expect(createCustomer("")).rejects.toMatchObject({ code: Code.InvalidArgument });
    await createCustomer("taken", { alias: "First" });
    await expect(createCustomer("taken", { alias: "Second" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "Customer already exists, passed user_id=taken. Please pass a new user_id.",
    });
    expect((await getCustomer("taken")).alias).toBe("First");
    await expect(createCustomer("asian", { allowedModelRegion: "asia" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(getCustomer("asian")).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("answers 404 for an unknown customer, and lists those there are", async () => {
    await expect(getCustomer("no-such-customer")).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "End User Id=no-such-customer does not exist in db",
    });
    await createCustomer("listed-a", { alias: "A" });
    await createCustomer("listed-b", { maxBudget: 3 });
    const listed = (await client().listCustomers({}, asMaster)).customers;
    const ids = listed.map((c) => c.userId);
    expect(ids.indexOf("listed-a")).toBeLessThan(ids.indexOf("listed-b"));
    expect(listed.find((c) => c.userId === "listed-a")).toMatchObject({ alias: "A" });
    expect(listed.find((c) => c.userId === "listed-b")).toMatchObject({ maxBudget: 3, spend: 0 });
  });

  it("updates a customer's fields, and clears its budget", async () => {
    await createCustomer("updated", { alias: "Before", maxBudget: 10, rpmLimit: 5, allowedModelRegion: "us" });
    const changed = (await client().updateCustomer({ userId: "updated", settings: { alias: "After", tpmLimit: 100, allowedModelRegion: "eu" } }, asMaster))
      .customer;
    expect(changed).toMatchObject({ alias: "After", maxBudget: 10, rpmLimit: 5, tpmLimit: 100, allowedModelRegion: "eu", spend: 0 });
    const cleared = (await client().updateCustomer({ userId: "updated", settings: { clear: ["max_budget", "default_model"] } }, asMaster)).customer!;
    expect(cleared.maxBudget).toBeUndefined();
    expect(cleared.spend).toBeUndefined();
    expect(await getCustomer("updated")).toMatchObject({ alias: "After", rpmLimit: 5, tpmLimit: 100, allowedModelRegion: "eu" });
    for (const settings of [{ allowedModelRegion: "mars" }, { clear: ["blocked"] }]) {
      await expect(client().updateCustomer({ userId: "updated", settings }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    }
    await expect(client().updateCustomer({ userId: "no-such-customer", settings: { rpmLimit: 1 } }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "End User Id=no-such-customer does not exist in db",
    });
  });

  it("deletes customers only when every one named exists", async () => {
    await createCustomer("doomed-a");
    await createCustomer("doomed-b");
    await expect(client().deleteCustomers({ userIds: ["doomed-a", "ghost-1", "ghost-2"] }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "End User Id(s)=ghost-1, ghost-2 do not exist in db",
    });
    await expect(client().deleteCustomers({ userIds: [] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect((await getCustomer("doomed-a")).userId).toBe("doomed-a");
    const deleted = await client().deleteCustomers({ userIds: ["doomed-a", "doomed-b"] }, asMaster);
    expect(deleted.deletedUserIds.sort()).toEqual(["doomed-a", "doomed-b"]);
    for (const userId of ["doomed-a", "doomed-b"]) await expect(getCustomer(userId)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("blocks customers, making the unknown ones, and unblocks only known ones", async () => {
    await createCustomer("block-known", { alias: "Known" });
    const blocked = (await client().blockCustomers({ userIds: ["block-known", "block-new"] }, asMaster)).customers;
    expect(blocked.map((c) => [c.userId, c.blocked]).sort()).toEqual([
      ["block-known", true],
      ["block-new", true],
    ]);
    expect(await getCustomer("block-known")).toMatchObject({ alias: "Known", blocked: true });
    expect((await getCustomer("block-new")).blocked).toBe(true);
    await expect(client().unblockCustomers({ userIds: ["block-known", "block-ghost"] }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "End User Id=block-ghost does not exist in db",
    });
    expect((await getCustomer("block-known")).blocked).toBe(true);
    await expect(getCustomer("block-ghost")).rejects.toMatchObject({ code: Code.NotFound });
    const unblocked = (await client().unblockCustomers({ userIds: ["block-known", "block-new"] }, asMaster)).customers;
    expect(unblocked.map((c) => c.blocked)).toEqual([false, false]);
    await expect(client().blockCustomers({ userIds: [] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("refuses every customer call without the master key", async () => {
    await createCustomer("guarded");
    const key = await newKey();
    for (const [options, code] of [
      [{}, Code.Unauthenticated],
      [{ headers: { authorization: `Bearer ${key}` } }, Code.PermissionDenied],
    ] as const) {
      for (const call of [
        () => client().createCustomer({ userId: "intruder" }, options),
        () => client().updateCustomer({ userId: "guarded", settings: { maxBudget: 1000 } }, options),
        () => client().getCustomer({ userId: "guarded" }, options),
        () => client().listCustomers({}, options),
        () => client().deleteCustomers({ userIds: ["guarded"] }, options),
        () => client().blockCustomers({ userIds: ["guarded"] }, options),
        () => client().unblockCustomers({ userIds: ["guarded"] }, options),
      ]) {
        await expect(call()).rejects.toMatchObject({ code });
      }
    }
    const guarded = await getCustomer("guarded");
    expect(guarded.blocked).toBe(false);
    expect(guarded.maxBudget).toBeUndefined();
    await expect(getCustomer("intruder")).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("a blocked customer", () => {
  it("is refused whatever the key, the master key too, and let through once unblocked", async () => {
    const key = await newKey();
    await client().blockCustomers({ userIds: ["blocked-user"] }, asMaster);
    for (const apiKey of [key, MASTER]) {
      await expect(ask(apiKey, { endUser: "blocked-user" })).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: blockedMessage("blocked-user") });
      await expect(ask(apiKey, { endUser: "never-heard-of" })).resolves.toMatchObject({ reserved: false });
      await expect(ask(apiKey)).resolves.toMatchObject({ reserved: false });
    }
    await client().unblockCustomers({ userIds: ["blocked-user"] }, asMaster);
    for (const apiKey of [key, MASTER]) await expect(ask(apiKey, { endUser: "blocked-user" })).resolves.toMatchObject({ reserved: false });
  });

  it("is refused on every replica", async () => {
    const key = await newKey();
    const other = await service.replica();
    try {
      await client().blockCustomers({ userIds: ["blocked-everywhere"] }, asMaster);
      // The other replica reloads its customers when told, a moment later.
      await vi.waitFor(() => expect(ask(key, { endUser: "blocked-everywhere", via: clientOf(other) })).rejects.toMatchObject({ code: Code.InvalidArgument }));
      await expect(ask(MASTER, { endUser: "blocked-everywhere", via: clientOf(other) })).rejects.toMatchObject({ code: Code.InvalidArgument });
    } finally {
      await other.stop();
    }
  });

  it("is refused on lookups too, which check the end user before returning", async () => {
    const key = await newKey();
    await client().blockCustomers({ userIds: ["blocked-lookup"] }, asMaster);
    for (const apiKey of [key, MASTER]) {
      await expect(ask(apiKey, { endUser: "blocked-lookup", access: Access.LOOKUP })).rejects.toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: blockedMessage("blocked-lookup"),
      });
    }
  });

  it("makes watchers forget every answer they kept", async () => {
    const watcher = client().watchKeys({})[Symbol.asyncIterator]();
    try {
      expect((await watcher.next()).value).toMatchObject({ all: true });
      await client().blockCustomers({ userIds: ["blocked-watched"] }, asMaster);
      // Past any heartbeat, the next event tells them to forget everything.
      for (;;) {
        const { value } = await watcher.next();
        if (value?.all || value?.keyHash !== "") {
          expect(value).toMatchObject({ all: true, keyHash: "" });
          break;
        }
      }
    } finally {
      await watcher.return?.();
    }
  });
});

describe("a customer's limits, whatever the key", () => {
  it("refuses every key, the master key too, once the end user has spent its budget, and no other end user", async () => {
    await createCustomer("spender", { maxBudget: RESERVATION * 1.5 });
    const a = await newKey();
    const b = await newKey();
    const auth = await ask(a, { endUser: "spender", requestId: "overspend" });
    expect(auth.reserved).toBe(true);
    await release(auth, "overspend", RESERVATION * 2);
    expect((await getCustomer("spender")).spend).toBe(RESERVATION * 2);
    for (const apiKey of [b, a, MASTER]) {
      await expect(ask(apiKey, { endUser: "spender" })).rejects.toMatchObject({
        code: Code.FailedPrecondition,
        rawMessage: startingWith(`ExceededBudget: End User=spender over budget. Spend=${RESERVATION * 2}, Budget=${RESERVATION * 1.5}.`),
      });
    }
    for (const apiKey of [a, MASTER]) {
      await expect(ask(apiKey, { endUser: "thrifty" })).resolves.toMatchObject({ reserved: false });
      await expect(ask(apiKey)).resolves.toMatchObject({ reserved: false });
    }
  });

  it("holds the master key's requests until released, and keeps its shared answer as it is", async () => {
    await createCustomer("single", { maxParallelRequests: 1 });
    await createCustomer("unlimited", { alias: "No limits" });
    // The master key's one answer for every request it holds nothing for.
    const expectShared = async (auth: Promise<AuthorizeResponse>) => {
      const answer = await auth;
      expect(answer).toMatchObject({ isMaster: true, reserved: false, reusableUntilMs: Number.MAX_SAFE_INTEGER });
      expect(answer.rateLimit).toBeUndefined();
    };
    const first = await ask(MASTER, { endUser: "single", requestId: "single-1" });
    expect(first).toMatchObject({ isMaster: true, reserved: true, reusableUntilMs: 0 });
    for (const apiKey of [MASTER, await newKey()]) {
      await expect(ask(apiKey, { endUser: "single" })).rejects.toMatchObject({
        code: Code.ResourceExhausted,
        rawMessage: "max_parallel_requests (1) reached for this customer",
      });
    }
    // Nothing is taken for a lookup, nor for a request whose end user sets no limits or is unknown.
    await expectShared(ask(MASTER, { endUser: "single", access: Access.LOOKUP }));
    for (const endUser of ["", "unlimited", "never-heard-of"]) await expectShared(ask(MASTER, { endUser }));
    await release(first, "single-1");
    const again = await ask(MASTER, { endUser: "single", requestId: "single-2" });
    expect(again).toMatchObject({ reserved: true, reusableUntilMs: 0 });
    await release(again, "single-2");
    await expectShared(ask(MASTER));
  });

  it("admits no more requests at once, across keys, the master key and replicas, than the customer's budget can reserve", async () => {
    const fits = 5;
    await createCustomer("contended", { maxBudget: RESERVATION * (fits + 0.5) });
    const apiKeys = [await newKey(), await newKey(), MASTER];
    const other = await service.replica();
    const cost = RESERVATION / 2;
    try {
      const replicas = [client(), clientOf(other)];
      // Every pairing of key and replica, several times over, all at once.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          ask(apiKeys[Math.floor(i / 2) % apiKeys.length]!, { endUser: "contended", requestId: `burst-${i}`, via: replicas[i % 2]! }),
        ),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: startingWith("ExceededBudget: End User=contended ") });
        }
      }
      // Each released through the first replica, settled on the one holding it.
      await Promise.all(results.map((r, i) => (r.status === "fulfilled" ? release(r.value, `burst-${i}`, cost) : undefined)));
    } finally {
      await other.stop();
    }
    expect((await getCustomer("contended")).spend).toBeCloseTo(fits * cost, 12);
  });

  it("counts the end user's requests per minute over every key", async () => {
    await createCustomer("rpm", { rpmLimit: 3 });
    const a = await newKey();
    const b = await newKey();
    // Four requests in the same minute window, so none of them sees it turn.
    await sameMinute();
    await ask(a, { endUser: "rpm" });
    await ask(b, { endUser: "rpm" });
    const third = await ask(MASTER, { endUser: "rpm" });
    expect(third.rateLimit).toMatchObject({ limitRequests: 3, remainingRequests: 0 });
    await expect(ask(a, { endUser: "rpm" })).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("customer") });
    await expect(ask(a, { endUser: "other-rpm" })).resolves.toMatchObject({ reserved: false });
  });

  it("starts a customer made again under a deleted customer's id from nothing, and counts its spend", async () => {
    const spendOnce = async (requestId: string) => {
      const auth = await ask(await newKey(), { endUser: "reborn", requestId });
      expect(auth.reserved).toBe(true);
      await release(auth, requestId, 0.01);
    };
    await createCustomer("reborn", { maxBudget: 1 });
    await spendOnce("reborn-1");
    expect((await getCustomer("reborn")).spend).toBe(0.01);
    await client().deleteCustomers({ userIds: ["reborn"] }, asMaster);
    await createCustomer("reborn", { maxBudget: 1 });
    expect((await getCustomer("reborn")).spend).toBe(0);
    await spendOnce("reborn-2");
    expect((await getCustomer("reborn")).spend).toBe(0.01);
  });

  it("holds the master key to a customer's limits when access is left unspecified (treated as inference)", async () => {
    await createCustomer("unspecified", { maxParallelRequests: 1 });
    const first = await ask(MASTER, { endUser: "unspecified", access: Access.UNSPECIFIED });
    expect(first.reserved).toBe(true);
    await expect(ask(MASTER, { endUser: "unspecified", access: Access.UNSPECIFIED })).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("blocks an end user named twice once", async () => {
    const { customers } = await client().blockCustomers({ userIds: ["dup", "dup"] }, asMaster);
    expect(customers.map((c) => [c.userId, c.blocked])).toEqual([["dup", true]]);
  });
});
