import { Code, ConnectError } from "@connectrpc/connect";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { describe, expect, it } from "vitest";
import { asMaster, clientOf, keysService } from "./support.js";

// What a key may do on the management API by its user's role (LiteLLM's
// user_role) and its user's role in a team (members_with_roles).

const service = keysService();
const client = service.client;
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

/** A user with `role` and one key of its own. */
async function userWithKey(userId: string, role: string, models: string[] = []): Promise<string> {
  await client().createUser({ userId, settings: { userRole: role, ...(models.length > 0 && { models: { models } }) } }, asMaster);
  return (await client().generateKey({ settings: { userId } }, asMaster)).key;
}

const refused = (call: Promise<unknown>) => call.then(() => undefined, (e: unknown) => ConnectError.from(e));
const keyRef = (key: string) => ({ ref: { case: "key" as const, value: key } });

describe("proxy_admin and proxy_admin_viewer users", () => {
  it("lets a proxy_admin's key do what the master key does", async () => {
    const admin = await userWithKey("boss", "proxy_admin");
    expect(await client().authorize({ apiKey: admin, access: Access.MANAGEMENT })).toMatchObject({ userRole: "proxy_admin", isMaster: false });
    await client().createTeam({ teamId: "boss-team" }, as(admin));
    const made = await client().generateKey({ settings: { userId: "someone-else", teamId: "boss-team" } }, as(admin));
    expect(made.info).toMatchObject({ userId: "someone-else", teamId: "boss-team" });
    await client().blockKey({ ref: keyRef(made.key) }, as(admin));
    expect((await client().listUsers({}, as(admin))).users.map((u) => u.user?.userId)).toContain("boss");
  });

  it("lets a proxy_admin_viewer's key read everything and change nothing", async () => {
    const viewer = await userWithKey("auditor", "proxy_admin_viewer");
    const other = await userWithKey("somebody", "internal_user");
    expect(await client().authorize({ apiKey: viewer, access: Access.VIEW })).toMatchObject({ userRole: "proxy_admin_viewer" });
    expect((await client().getKey({ ref: keyRef(other) }, as(viewer))).key?.userId).toBe("somebody");
    expect((await client().getUser({ userId: "somebody" }, as(viewer))).user?.userId).toBe("somebody");
    expect((await client().listKeys({ userId: "somebody" }, as(viewer))).totalCount).toBe(1);
    for (const change of [
      client().authorize({ apiKey: viewer, access: Access.MANAGEMENT }),
      client().createTeam({ teamId: "viewer-team" }, as(viewer)),
      client().generateKey({}, as(viewer)),
      client().updateKey({ ref: keyRef(viewer), settings: { keyAlias: "mine" } }, as(viewer)),
      client().deleteKeys({ refs: [keyRef(other)] }, as(viewer)),
    ]) {
      const err = await refused(change);
      expect(err).toMatchObject({ code: Code.PermissionDenied, rawMessage: "A proxy_admin_viewer's key may read but not change anything" });
    }
    expect((await client().getKey({ ref: keyRef(other) }, asMaster)).key?.blocked).toBe(false);
  });
});

describe("internal users", () => {
  it("make, change, list and delete keys of their own user only", async () => {
    const ana = await userWithKey("ana", "internal_user");
    const bob = await userWithKey("bob", "internal_user");
    const made = await client().generateKey({ settings: { keyAlias: "ana-cli" } }, as(ana));
    expect(made.info).toMatchObject({ userId: "ana", keyAlias: "ana-cli" });
    expect((await client().authorize({ apiKey: made.key, model: "fast-model", requestId: "ana-1" })).userId).toBe("ana");

    const forBob = await refused(client().generateKey({ settings: { userId: "bob" } }, as(ana)));
    expect(forBob).toMatchObject({ code: Code.PermissionDenied, rawMessage: expect.stringContaining("Got user_id=bob, Your ID=ana") });
    await client().updateKey({ ref: keyRef(made.key), settings: { keyAlias: "ana-laptop" } }, as(ana));
    expect((await client().getKey({ ref: keyRef(made.key) }, as(ana))).key?.keyAlias).toBe("ana-laptop");

    // Another user's key and no key at all are the same refusal.
    const notMine = await refused(client().updateKey({ ref: keyRef(bob), settings: { keyAlias: "taken" } }, as(ana)));
    const none = await refused(client().updateKey({ ref: { ref: { case: "keyAlias", value: "no-such-alias" } }, settings: {} }, as(ana)));
    expect(notMine).toMatchObject({ code: Code.PermissionDenied });
    expect(none?.rawMessage).toBe(notMine?.rawMessage);
    expect(await refused(client().getKey({ ref: keyRef(bob) }, as(ana)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await refused(client().updateKey({ ref: keyRef(made.key), settings: { userId: "bob" } }, as(ana)))).toMatchObject({ code: Code.PermissionDenied });

    const listed = await client().listKeys({}, as(ana));
    expect(listed.keys.map((k) => k.userId)).toEqual(["ana", "ana"]);
    expect(await refused(client().listKeys({ userId: "bob" }, as(ana)))).toMatchObject({ code: Code.PermissionDenied });

    // A delete naming any key not the caller's deletes none.
    expect(await refused(client().deleteKeys({ refs: [keyRef(made.key), keyRef(bob)] }, as(ana)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().getKey({ ref: keyRef(made.key) }, asMaster)).key).toBeDefined();
    await client().deleteKeys({ refs: [keyRef(made.key)] }, as(ana));
    expect(await refused(client().authorize({ apiKey: made.key }))).toMatchObject({ code: Code.Unauthenticated });
  });

  it("keep to their user's models", async () => {
    const cy = await userWithKey("cy", "internal_user", ["fast-model"]);
    const made = await client().generateKey({}, as(cy));
    expect(made.info?.models).toEqual(["fast-model"]);
    for (const settings of [{ models: { models: ["smart-model"] } }, { models: { models: [] } }]) {
      const err = await refused(client().updateKey({ ref: keyRef(made.key), settings }, as(cy)));
      expect(err).toMatchObject({ code: Code.PermissionDenied, rawMessage: expect.stringContaining("within [fast-model]") });
    }
    expect(await refused(client().generateKey({ settings: { models: { models: ["fast-model", "smart-model"] } } }, as(cy)))).toMatchObject({ code: Code.PermissionDenied });
  });

  it("may not block, unblock, or touch teams, users, customers and tags", async () => {
    const dee = await userWithKey("dee", "internal_user");
    for (const call of [
      client().blockKey({ ref: keyRef(dee) }, as(dee)),
      client().unblockKey({ ref: keyRef(dee) }, as(dee)),
      client().createTeam({ teamId: "dee-team" }, as(dee)),
      client().updateUser({ userId: "dee", settings: { userRole: "proxy_admin" } }, as(dee)),
      client().listUsers({}, as(dee)),
      client().createCustomer({ userId: "dee-customer" }, as(dee)),
      client().listTags({}, as(dee)),
      client().getGatewayBudget({}, as(dee)),
    ]) {
      const err = await refused(call);
      expect(err).toMatchObject({ code: Code.PermissionDenied, rawMessage: expect.stringContaining("this key's role: internal_user") });
    }
    expect(await refused(client().getUser({ userId: "ana" }, as(dee)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().getUser({}, as(dee))).user?.userId).toBe("dee");
  });

  it("as internal_user_viewer, read their own keys and change nothing", async () => {
    const eve = await userWithKey("eve", "internal_user_viewer");
    expect((await client().listKeys({}, as(eve))).keys.map((k) => k.userId)).toEqual(["eve"]);
    const err = await refused(client().generateKey({}, as(eve)));
    expect(err).toMatchObject({ code: Code.PermissionDenied, rawMessage: "A internal_user_viewer's key may read but not change anything" });
  });

  it("leaves a key without a user to read only itself", async () => {
    const { key } = await client().generateKey({}, asMaster);
    expect((await client().getKey({ ref: keyRef(key) }, as(key))).key?.userId).toBe("");
    expect(await refused(client().generateKey({}, as(key)))).toMatchObject({ code: Code.PermissionDenied, rawMessage: expect.stringContaining("none (no user)") });
    expect(await refused(client().listKeys({}, as(key)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await refused(client().listTeams({}, as(key)))).toMatchObject({ code: Code.PermissionDenied });
  });
});

describe("team admins", () => {
  it("manage their team's keys and members; members see the team", async () => {
    await client().createTeam({ teamId: "squad", settings: {} }, asMaster);
    await client().createTeam({ teamId: "other-squad", settings: {} }, asMaster);
    const lead = await userWithKey("lead", "internal_user");
    const dev = await userWithKey("dev", "internal_user");
    await userWithKey("outsider", "internal_user");
    await client().addTeamMembers({ teamId: "squad", membersJson: JSON.stringify([{ role: "admin", user_id: "lead" }, { role: "user", user_id: "dev" }]) }, asMaster);

    const devKey = await client().generateKey({ settings: { userId: "dev", teamId: "squad" } }, as(lead));
    expect(devKey.info).toMatchObject({ userId: "dev", teamId: "squad" });
    // Not outside the team, not for someone outside it, not in a team the lead is not in.
    expect(await refused(client().generateKey({ settings: { userId: "dev" } }, as(lead)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await refused(client().generateKey({ settings: { userId: "outsider", teamId: "squad" } }, as(lead)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await refused(client().generateKey({ settings: { teamId: "other-squad" } }, as(lead)))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "User=lead is not a member of team=other-squad",
    });
    // A member makes team keys for itself, but not for others.
    expect((await client().generateKey({ settings: { teamId: "squad" } }, as(dev))).info?.userId).toBe("dev");
    expect(await refused(client().generateKey({ settings: { userId: "lead", teamId: "squad" } }, as(dev)))).toMatchObject({ code: Code.PermissionDenied });

    expect((await client().listKeys({ teamId: "squad" }, as(lead))).totalCount).toBe(2);
    expect((await client().listKeys({ teamId: "squad" }, as(dev))).keys.every((k) => k.userId === "dev")).toBe(true);
    expect(await refused(client().listKeys({ teamId: "other-squad" }, as(dev)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().getTeam({ teamId: "squad" }, as(dev))).team?.teamId).toBe("squad");
    expect(await refused(client().getTeam({ teamId: "other-squad" }, as(dev)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().listTeams({}, as(dev))).teams.map((t) => t.teamId)).toEqual(["squad"]);

    await client().addTeamMembers({ teamId: "squad", membersJson: JSON.stringify([{ role: "user", user_id: "outsider" }]) }, as(lead));
    await client().updateTeamMember({ teamId: "squad", userId: "outsider", rpmLimit: 5 }, as(lead));
    expect(await refused(client().removeTeamMember({ teamId: "squad", userId: "outsider" }, as(dev)))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "Only a proxy admin or an admin of team=squad may change its members",
    });
    expect(await refused(client().addTeamMembers({ teamId: "other-squad", membersJson: JSON.stringify([{ role: "user", user_id: "dev" }]) }, as(lead)))).toMatchObject({
      code: Code.PermissionDenied,
    });
    await client().deleteKeys({ refs: [keyRef(devKey.key)] }, as(lead));
    expect(await refused(client().getKey({ ref: keyRef(devKey.key) }, asMaster))).toMatchObject({ code: Code.NotFound });
  });
});

describe("a team's keys", () => {
  it("leave the team (for no team or another) only by an admin or an admin of the team, not by a member whose key it is", async () => {
    await client().createTeam({ teamId: "capped", settings: { maxBudget: 1 } }, asMaster);
    await client().createTeam({ teamId: "loose", settings: {} }, asMaster);
    const boss = await userWithKey("capped-lead", "internal_user");
    await userWithKey("capped-dev", "internal_user");
    await client().addTeamMembers({ teamId: "capped", membersJson: JSON.stringify([{ role: "admin", user_id: "capped-lead" }, { role: "user", user_id: "capped-dev" }]) }, asMaster);
    await client().addTeamMembers({ teamId: "loose", membersJson: JSON.stringify([{ role: "user", user_id: "capped-dev" }]) }, asMaster);
    const devsKey = (await client().generateKey({ settings: { userId: "capped-dev", teamId: "capped" } }, asMaster)).key;
    for (const teamId of ["", "loose"]) {
      expect(await refused(client().updateKey({ ref: keyRef(devsKey), settings: { teamId } }, as(devsKey)))).toMatchObject({
        code: Code.PermissionDenied,
        rawMessage: "Only a proxy admin or an admin of team=capped may move a key out of it",
      });
    }
    expect((await client().getKey({ ref: keyRef(devsKey) }, asMaster)).key?.teamId).toBe("capped");
    // Its other settings are still its user's to change; an admin may move it, and the team's admin its own key.
    expect((await client().updateKey({ ref: keyRef(devsKey), settings: { keyAlias: "dev-cli", teamId: "capped" } }, as(devsKey))).key?.keyAlias).toBe("dev-cli");
    expect((await client().updateKey({ ref: keyRef(devsKey), settings: { teamId: "loose" } }, asMaster)).key?.teamId).toBe("loose");
    const bossKey = (await client().generateKey({ settings: { teamId: "capped" } }, as(boss))).key;
    expect((await client().updateKey({ ref: keyRef(bossKey), settings: { teamId: "" } }, as(boss))).key?.teamId).toBe("");
  });
});

describe("a team admin", () => {
  it("may not make, be given, regenerate or delete a key of a member whose role is above its own, which the key would carry", async () => {
    await client().createTeam({ teamId: "mixed", settings: {} }, asMaster);
    const lead = await userWithKey("mixed-lead", "internal_user");
    await userWithKey("mixed-boss", "proxy_admin");
    await userWithKey("mixed-auditor", "proxy_admin_viewer");
    await userWithKey("mixed-dev", "internal_user");
    const members = [{ role: "admin", user_id: "mixed-lead" }, { role: "user", user_id: "mixed-boss" }, { role: "user", user_id: "mixed-auditor" }, { role: "user", user_id: "mixed-dev" }];
    await client().addTeamMembers({ teamId: "mixed", membersJson: JSON.stringify(members) }, asMaster);
    for (const [userId, role] of [["mixed-boss", "proxy_admin"], ["mixed-auditor", "proxy_admin_viewer"]]) {
      expect(await refused(client().generateKey({ settings: { userId, teamId: "mixed" } }, as(lead)))).toMatchObject({
        code: Code.PermissionDenied,
        rawMessage: `User=${userId} is a ${role}: only a proxy admin may make or change their keys`,
      });
    }
    const devsKey = (await client().generateKey({ settings: { userId: "mixed-dev", teamId: "mixed" } }, as(lead))).key;
    expect(await refused(client().updateKey({ ref: keyRef(devsKey), settings: { userId: "mixed-boss" } }, as(lead)))).toMatchObject({ code: Code.PermissionDenied });
    // The proxy admin's own key in the team: the team admin can neither get a new value of it nor take it away.
    const bossKey = (await client().generateKey({ settings: { userId: "mixed-boss", teamId: "mixed" } }, asMaster)).key;
    for (const change of [client().regenerateKey({ ref: keyRef(bossKey) }, as(lead)), client().updateKey({ ref: keyRef(bossKey), settings: { keyAlias: "x" } }, as(lead)), client().deleteKeys({ refs: [keyRef(bossKey)] }, as(lead))]) {
      expect(await refused(change)).toMatchObject({ code: Code.PermissionDenied });
    }
    expect((await client().authorize({ apiKey: bossKey, access: Access.MANAGEMENT })).userRole).toBe("proxy_admin");
    // Its own members' keys are still its to manage.
    expect((await client().regenerateKey({ ref: keyRef(devsKey) }, as(lead))).key).not.toBe(devsKey);
  });
});

describe("role changes", () => {
  it("hold on every replica, also for calls already on their way", async () => {
    const other = await service.replica();
    try {
      const fay = await userWithKey("fay", "proxy_admin");
      const teamIds = Array.from({ length: 20 }, (_, i) => `fay-${i}`);
      // Calls in flight while the role is taken away: each either made its team or was refused, none half.
      const [calls] = await Promise.all([
        Promise.allSettled(teamIds.map((teamId, i) => (i % 2 === 0 ? client() : clientOf(other)).createTeam({ teamId }, as(fay)))),
        client().updateUser({ userId: "fay", settings: { userRole: "internal_user" } }, asMaster),
      ]);
      const made = (await client().listTeams({}, asMaster)).teams.filter((t) => t.teamId.startsWith("fay-")).length;
      expect(made).toBe(calls.filter((c) => c.status === "fulfilled").length);
      expect(await refused(client().createTeam({ teamId: "fay-after" }, as(fay)))).toMatchObject({ code: Code.PermissionDenied });
      let tries = 0;
      await expect.poll(() => refused(clientOf(other).createTeam({ teamId: `fay-after-${++tries}` }, as(fay)))).toMatchObject({ code: Code.PermissionDenied });
      // And given back.
      await client().updateUser({ userId: "fay", settings: { userRole: "proxy_admin" } }, asMaster);
      await expect.poll(() => refused(clientOf(other).createTeam({ teamId: "fay-again" }, as(fay)))).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});

describe("allowed_routes", () => {
  it("are kept, answered by Authorize, set by users only on new keys, and checked for shape", async () => {
    const gus = await userWithKey("gus", "internal_user");
    const made = await client().generateKey({ settings: { allowedRoutes: { routes: ["llm_api_routes", "/key/info"] } } }, as(gus));
    expect(made.info?.allowedRoutes).toEqual(["llm_api_routes", "/key/info"]);
    expect((await client().authorize({ apiKey: made.key, model: "fast-model", requestId: "routes-1" })).allowedRoutes).toEqual(["llm_api_routes", "/key/info"]);
    const widen = await refused(client().updateKey({ ref: keyRef(made.key), settings: { clear: ["allowed_routes"] } }, as(gus)));
    expect(widen).toMatchObject({ code: Code.PermissionDenied, rawMessage: "Only an admin may change the allowed_routes of a key" });
    expect((await client().updateKey({ ref: keyRef(made.key), settings: { clear: ["allowed_routes"] } }, asMaster)).key?.allowedRoutes).toEqual([]);
    expect(await refused(client().generateKey({ settings: { allowedRoutes: { routes: ["chat"] } } }, asMaster))).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("allowed_routes must be paths"),
    });
  });
});
