import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { sameMinute } from "@gateway/testing";
import {
  type AuthorizeResponse,
  type KeySettingsSchema,
  type ListUsersRequestSchema,
  type ListUsersResponse,
  type User,
  type UserSettingsSchema,
} from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { RESERVATION, asMaster, clientOf, keysService } from "./support.js";

const service = keysService();
const client = service.client;
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

async function createUser(userId: string, settings: MessageInitShape<typeof UserSettingsSchema> = {}, teams: string[] = []): Promise<User> {
  const { user } = await client().createUser({ userId, settings, teams }, asMaster);
  return user!;
}

async function createTeam(teamId: string): Promise<void> {
  await client().createTeam({ teamId }, asMaster);
}

async function userKey(userId: string, settings: MessageInitShape<typeof KeySettingsSchema> = {}): Promise<{ key: string; hash: string }> {
  const minted = await client().generateKey({ settings: { ...settings, userId } }, asMaster);
  return { key: minted.key, hash: minted.info!.keyHash };
}

let requests = 0;
const ask = (apiKey: string, model = "fast-model", requestId = `req-${++requests}`, via = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model, promptTokens: 10, maxTokens: 10 });

const teamMembers = async (teamId: string): Promise<unknown[]> =>
  JSON.parse((await client().getTeam({ teamId }, asMaster)).team!.membersWithRolesJson) as unknown[];
// A message starting with `text`, as clients match LiteLLM's refusals.
const startingWith = (text: string) => expect.stringMatching(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));

describe("creating users", () => {
  it("creates a user under a chosen id or a new one", async () => {
    const chosen = await createUser("ann", {
      userAlias: "Ann",
      userEmail: "Ann@Example.com",
      userRole: "proxy_admin_viewer",
      models: { models: ["fast-model"] },
      maxBudget: 5,
      rpmLimit: 10,
      metadataJson: '{"desk":"7"}',
    });
    expect(chosen).toMatchObject({
      userId: "ann",
      userAlias: "Ann",
      userEmail: "Ann@Example.com",
      userRole: "proxy_admin_viewer",
      models: ["fast-model"],
      maxBudget: 5,
      rpmLimit: 10,
      spend: 0,
      metadataJson: '{"desk":"7"}',
    });
    expect((await client().getUser({ userId: "ann" }, asMaster)).user?.userEmail).toBe("Ann@Example.com");
    const made = await client().createUser({}, asMaster);
    expect(made.user?.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.user).toMatchObject({ userRole: "internal_user", userEmail: "" });
    expect(made.user?.maxBudget).toBeUndefined();
    expect(made.key).toBe("");
    expect(made.keyInfo).toBeUndefined();
  });

  it("refuses a taken id, a taken email in any case, and an unknown role", async () => {
    await createUser("taken", { userEmail: "taken@example.com" });
    await expect(createUser("taken")).rejects.toMatchObject({ code: Code.AlreadyExists, rawMessage: "User with id taken already exists" });
    await expect(createUser("taken-too", { userEmail: "TAKEN@example.com" })).rejects.toMatchObject({
      code: Code.AlreadyExists,
      rawMessage: expect.stringContaining("User with email"),
    });
    await expect(createUser("bad-role", { userRole: "owner" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    for (const userId of ["taken-too", "bad-role"]) {
      await expect(client().getUser({ userId }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    }
  });

  it("puts the user in the teams named, and makes no user when one of them is unknown", async () => {
    await createTeam("joined");
    await expect(createUser("teamless", {}, ["joined", "no-such-team"])).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client().getUser({ userId: "teamless" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    expect(await teamMembers("joined")).toEqual([]);
    await createUser("joiner", {}, ["joined"]);
    expect(await teamMembers("joined")).toEqual([{ role: "user", user_id: "joiner" }]);
  });

  it("makes the user's first key with the user's models and the key settings given", async () => {
    const made = await client().createUser(
      { userId: "keyed", settings: { models: { models: ["fast-model"] } }, createKey: true, keySettings: { keyAlias: "keyed-key" } },
      asMaster,
    );
    expect(made.key).toMatch(/^sk-/);
    expect(made.keyInfo).toMatchObject({ userId: "keyed", models: ["fast-model"], keyAlias: "keyed-key" });
    await expect(ask(made.key)).resolves.toMatchObject({ userId: "keyed", models: ["fast-model"] });
    expect((await client().getUser({ userId: "keyed" }, asMaster)).keys.map((k) => k.keyHash)).toEqual([made.keyInfo?.keyHash]);
  });

  it("makes neither the user nor the key when the key's alias is taken", async () => {
    await client().generateKey({ settings: { keyAlias: "clashing" } }, asMaster);
    await expect(client().createUser({ userId: "clash", createKey: true, keySettings: { keyAlias: "clashing" } }, asMaster)).rejects.toMatchObject({
      code: Code.AlreadyExists,
    });
    await expect(client().getUser({ userId: "clash" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    expect((await client().listKeys({ userId: "clash" }, asMaster)).totalCount).toBe(0);
  });
});

describe("updating users", () => {
  it("updates a user named by id or by email, and clears its budget", async () => {
    await createUser("changed", { userAlias: "Before", userEmail: "changed@example.com", maxBudget: 10 });
    const byId = (await client().updateUser({ userId: "changed", settings: { userAlias: "After", rpmLimit: 7 } }, asMaster)).user;
    expect(byId).toMatchObject({ userAlias: "After", rpmLimit: 7, maxBudget: 10, spend: 0 });
    const byEmail = (await client().updateUser({ userEmail: "changed@example.com", settings: { tpmLimit: 100 } }, asMaster)).user;
    expect(byEmail).toMatchObject({ userId: "changed", userAlias: "After", tpmLimit: 100 });
    const cleared = (await client().updateUser({ userId: "changed", settings: { clear: ["max_budget"] } }, asMaster)).user!;
    expect(cleared.maxBudget).toBeUndefined();
    expect(cleared.spend).toBeUndefined();
    expect((await client().getUser({ userId: "changed" }, asMaster)).user).toMatchObject({ userAlias: "After", rpmLimit: 7, tpmLimit: 100 });
  });

  it("answers 404 for an unknown user, and 409 for another user's email", async () => {
    await expect(client().updateUser({ userId: "no-such-user", settings: { rpmLimit: 1 } }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client().updateUser({ userEmail: "nobody@example.com", settings: { rpmLimit: 1 } }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
    });
    await createUser("mover", { userEmail: "mover@example.com" });
    await createUser("owner", { userEmail: "owner@example.com" });
    await expect(client().updateUser({ userId: "mover", settings: { userEmail: "Owner@example.com" } }, asMaster)).rejects.toMatchObject({
      code: Code.AlreadyExists,
    });
    expect((await client().getUser({ userId: "mover" }, asMaster)).user?.userEmail).toBe("mover@example.com");
  });
});

describe("reading users", () => {
  it("shows a user with its keys and the teams it is a member of", async () => {
    await createTeam("readers");
    await createTeam("others");
    await createUser("reader", {}, ["readers"]);
    const a = await userKey("reader");
    const b = await userKey("reader");
    await client().generateKey({}, asMaster);
    const got = await client().getUser({ userId: "reader" }, asMaster);
    expect(got.user?.userId).toBe("reader");
    expect(got.keys.map((k) => k.keyHash).sort()).toEqual([a.hash, b.hash].sort());
    expect(got.teams.map((t) => t.teamId)).toEqual(["readers"]);
  });

  it("lets a virtual key read its own user, and no other", async () => {
    await createUser("self");
    await createUser("someone-else");
    const { key, hash } = await userKey("self");
    for (const userId of ["", "self"]) {
      const got = await client().getUser({ userId }, as(key));
      expect(got.user?.userId).toBe("self");
      expect(got.keys.map((k) => k.keyHash)).toEqual([hash]);
    }
    await expect(client().getUser({ userId: "someone-else" }, as(key))).rejects.toMatchObject({ code: Code.PermissionDenied });
    const userless = await client().generateKey({}, asMaster);
    await expect(client().getUser({ userId: "self" }, as(userless.key))).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(client().getUser({ userId: "no-such-user" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("lists users a page at a time, filtered, with their keys", async () => {
    await createTeam("listed");
    await createUser("list-a", { userEmail: "a@List.Example" }, ["listed"]);
    await createUser("list-b", { userEmail: "b@list.example", userRole: "proxy_admin" });
    await createUser("list-c", { userEmail: "c@LIST.example" }, ["listed"]);
    const b1 = await userKey("list-b");
    const b2 = await userKey("list-b");
    const c1 = await userKey("list-c");
    const regenerated = await client().regenerateKey({ ref: { ref: { case: "keyHash", value: b2.hash } } }, asMaster);
    const list = (filter: MessageInitShape<typeof ListUsersRequestSchema>) => client().listUsers(filter, asMaster);
    const ids = (res: ListUsersResponse) => res.users.map((u) => u.user?.userId);
    const userIds = ["list-a", "list-b", "list-c", "no-such-user"];

    // Newest first, as LiteLLM lists them.
    const first = await list({ userIds, page: 1, pageSize: 2 });
    expect(ids(first)).toEqual(["list-c", "list-b"]);
    expect(first.users.map((u) => u.keyCount)).toEqual([1, 2]);
    // Every hash a key of the user has had, for the ledger's spend.
    expect(first.users.map((u) => [...u.keyHashes].sort())).toEqual([[c1.hash], [b1.hash, b2.hash, regenerated.info!.keyHash].sort()]);
    expect(first.total).toBe(3);
    const second = await list({ userIds, page: 2, pageSize: 2 });
    expect(ids(second)).toEqual(["list-a"]);
    expect(second.users[0]).toMatchObject({ keyCount: 0, keyHashes: [] });
    expect(second.total).toBe(3);

    expect(ids(await list({ userEmail: "LIST.example" }))).toEqual(["list-c", "list-b", "list-a"]);
    expect(ids(await list({ userEmail: "list_example" }))).toEqual([]);
    const admins = await list({ userEmail: "list.example", userRole: "proxy_admin" });
    expect(ids(admins)).toEqual(["list-b"]);
    expect(admins.total).toBe(1);
    const inTeam = await list({ teamId: "listed" });
    expect(ids(inTeam)).toEqual(["list-c", "list-a"]);
    expect(inTeam.total).toBe(2);
  });
});

describe("deleting users", () => {
  it("deletes users with their keys and their places in teams", async () => {
    await createTeam("losing");
    await createUser("gone-a", {}, ["losing"]);
    await createUser("gone-b");
    await client().addTeamMembers({ teamId: "losing", membersJson: '[{"role":"admin","user_id":"stays"}]' }, asMaster);
    const a = await userKey("gone-a");
    const b = await userKey("gone-b");
    const bystander = await userKey("stays");
    const deleted = await client().deleteUsers({ userIds: ["gone-a", "gone-b"] }, asMaster);
    expect(deleted.deletedUserIds.sort()).toEqual(["gone-a", "gone-b"]);
    expect(deleted.deletedKeyHashes.sort()).toEqual([a.hash, b.hash].sort());
    for (const { key } of [a, b]) await expect(ask(key)).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(client().getUser({ userId: "gone-a" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    expect(await teamMembers("losing")).toEqual([{ role: "admin", user_id: "stays" }]);
    await expect(ask(bystander.key)).resolves.toMatchObject({ keyHash: bystander.hash });
  });

  it("deletes nothing when a user named is unknown", async () => {
    await createTeam("keeping");
    await createUser("survivor", {}, ["keeping"]);
    const { key } = await userKey("survivor");
    await expect(client().deleteUsers({ userIds: ["survivor", "no-such-user"] }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    expect((await client().getUser({ userId: "survivor" }, asMaster)).keys).toHaveLength(1);
    expect(await teamMembers("keeping")).toEqual([{ role: "user", user_id: "survivor" }]);
    await expect(ask(key)).resolves.toMatchObject({ userId: "survivor" });
  });
});

describe("a user's limits, shared by its keys", () => {
  /** Spends past the user's budget through one key of the user. */
  async function overspend(userId: string): Promise<void> {
    const { key, hash } = await userKey(userId);
    const requestId = `overspend-${userId}`;
    const auth = await ask(key, "fast-model", requestId);
    expect(auth.reserved).toBe(true);
    await client().release({ requestId, keyHash: hash, holder: auth.holder, cost: RESERVATION * 2 });
  }

  it("refuses every key of the user outside a team once one key has spent its budget", async () => {
    await createUser("spender", { maxBudget: RESERVATION * 1.5 });
    await overspend("spender");
    expect((await client().getUser({ userId: "spender" }, asMaster)).user?.spend).toBe(RESERVATION * 2);
    const other = await userKey("spender");
    await expect(ask(other.key)).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: startingWith(`ExceededBudget: User=spender over budget. Spend=${RESERVATION * 2}, Budget=${RESERVATION * 1.5}.`),
    });
  });

  it("holds the user's keys in a team to the team's budget, not the user's", async () => {
    await createUser("team-spender", { maxBudget: RESERVATION * 1.5 });
    await overspend("team-spender");
    await createTeam("pays");
    const inTeam = await userKey("team-spender", { teamId: "pays" });
    await expect(ask(inTeam.key)).resolves.toMatchObject({ userId: "team-spender", teamId: "pays" });
    const personal = await userKey("team-spender");
    await expect(ask(personal.key)).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });

  it("admits no more requests at once, across keys and replicas, than the user's budget can reserve", async () => {
    const fits = 5;
    await createUser("contended-user", { maxBudget: RESERVATION * (fits + 0.5) });
    const a = await userKey("contended-user");
    const b = await userKey("contended-user");
    const other = await service.replica();
    const cost = RESERVATION / 2;
    try {
      const replicas = [client(), clientOf(other)];
      // Every pairing of key and replica, ten times over, all at once.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => ask([a, b][(i >> 1) % 2]!.key, "fast-model", `user-burst-${i}`, replicas[i % 2])),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: startingWith("ExceededBudget: User=contended-user ") });
        }
      }
      await Promise.all(
        results.map((r, i) =>
          r.status === "fulfilled" ? client().release({ requestId: `user-burst-${i}`, keyHash: r.value.keyHash, holder: r.value.holder, cost }) : undefined,
        ),
      );
    } finally {
      await other.stop();
    }
    expect((await client().getUser({ userId: "contended-user" }, asMaster)).user?.spend).toBeCloseTo(fits * cost, 12);
  });

  it("counts requests per minute over all of the user's keys, in a team or not", async () => {
    await createUser("rpm-user", { rpmLimit: 3 });
    await createTeam("rpm-team");
    const personal = await userKey("rpm-user");
    const inTeam = await userKey("rpm-user", { teamId: "rpm-team" });
    // Four requests in the same minute window, so none of them sees it turn.
    await sameMinute();
    await ask(personal.key);
    await ask(inTeam.key);
    const third = await ask(personal.key);
    expect(third.rateLimit).toMatchObject({ limitRequests: 3, remainingRequests: 0 });
    await expect(ask(inTeam.key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("user") });
  });

  it("starts a user made again under a deleted user's id from nothing, and counts its spend", async () => {
    const spendOnce = async (requestId: string) => {
      const { key } = await userKey("reborn-user");
      const auth = await ask(key, "fast-model", requestId);
      await client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost: 0.01 });
    };
    await createUser("reborn-user", { maxBudget: 1 });
    await spendOnce("reborn-user-1");
    await client().deleteUsers({ userIds: ["reborn-user"] }, asMaster);
    await createUser("reborn-user", { maxBudget: 1 });
    await spendOnce("reborn-user-2");
    expect((await client().getUser({ userId: "reborn-user" }, asMaster)).user?.spend).toBe(0.01);
  });
});
