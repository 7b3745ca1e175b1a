import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AuthorizeResponse, type Team, type TeamSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import { RESERVATION, asMaster, clientOf, keysService } from "./support.js";

const service = keysService();
const client = service.client;

async function createTeam(teamId: string, settings: MessageInitShape<typeof TeamSettingsSchema> = {}): Promise<Team> {
  const { team } = await client().createTeam({ teamId, settings }, asMaster);
  return team!;
}

async function teamKey(teamId: string, models: string[] = []): Promise<{ key: string; hash: string }> {
  const minted = await client().generateKey({ settings: { teamId, models: { models } } }, asMaster);
  return { key: minted.key, hash: minted.info!.keyHash };
}

let requests = 0;
const ask = (apiKey: string, model = "fast-model", requestId = `req-${++requests}`, via = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model, promptTokens: 10, maxTokens: 10 });

const members = (team: Team | undefined): unknown[] => JSON.parse(team!.membersWithRolesJson) as unknown[];

describe("team management", () => {
  it("creates a team under a chosen id or a new one, and refuses a taken id", async () => {
    const chosen = await createTeam("crud", {
      teamAlias: "Crud",
      models: { models: ["fast-model"] },
      maxBudget: 5,
      rpmLimit: 10,
      metadataJson: '{"cost_center":"r&d"}',
    });
    expect(chosen).toMatchObject({
      teamId: "crud",
      teamAlias: "Crud",
      models: ["fast-model"],
      maxBudget: 5,
      rpmLimit: 10,
      spend: 0,
      blocked: false,
      metadataJson: '{"cost_center":"r&d"}',
      membersWithRolesJson: "[]",
    });
    const made = (await client().createTeam({}, asMaster)).team!;
    expect(made.teamId).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.maxBudget).toBeUndefined();
    expect(made.spend).toBeUndefined();
    await expect(client().createTeam({ teamId: "crud" }, asMaster)).rejects.toMatchObject({ code: Code.AlreadyExists });
    const listed = (await client().listTeams({}, asMaster)).teams;
    expect(listed.map((t) => t.teamId)).toEqual(expect.arrayContaining(["crud", made.teamId]));
    expect(listed.find((t) => t.teamId === "crud")?.teamAlias).toBe("Crud");
  });

  it("shows a team with its keys, and only its keys", async () => {
    await createTeam("with-keys");
    const a = await teamKey("with-keys");
    const b = await teamKey("with-keys");
    await client().generateKey({}, asMaster);
    const got = await client().getTeam({ teamId: "with-keys" }, asMaster);
    expect(got.team?.teamId).toBe("with-keys");
    expect(got.keys.map((k) => k.keyHash).sort()).toEqual([a.hash, b.hash].sort());
  });

  it("updates a team's fields, and clears its budget", async () => {
    await createTeam("updated", { teamAlias: "Before", maxBudget: 10, tpmLimit: 1000 });
    const { team } = await client().updateTeam({ teamId: "updated", settings: { teamAlias: "After", rpmLimit: 7 } }, asMaster);
    expect(team).toMatchObject({ teamAlias: "After", rpmLimit: 7, maxBudget: 10, tpmLimit: 1000 });
    const cleared = (await client().updateTeam({ teamId: "updated", settings: { clear: ["max_budget"] } }, asMaster)).team!;
    expect(cleared.maxBudget).toBeUndefined();
    expect(cleared.spend).toBeUndefined();
    expect(cleared).toMatchObject({ teamAlias: "After", rpmLimit: 7 });
    expect((await client().getTeam({ teamId: "updated" }, asMaster)).team?.maxBudget).toBeUndefined();
    await expect(client().updateTeam({ teamId: "updated", settings: { clear: ["models"] } }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });

  it("lets a virtual key read its own team, and no other", async () => {
    await createTeam("readable");
    await createTeam("unreadable");
    const { key, hash } = await teamKey("readable");
    const asKey = { headers: { authorization: `Bearer ${key}` } };
    expect((await client().getTeam({ teamId: "readable" }, asKey)).keys.map((k) => k.keyHash)).toEqual([hash]);
    for (const teamId of ["unreadable", "no-such-team", ""]) {
      await expect(client().getTeam({ teamId }, asKey)).rejects.toMatchObject({ code: Code.PermissionDenied });
    }
  });

  it("answers 404 for a team id naming no team", async () => {
    const teamId = "no-such-team";
    for (const call of [
      () => client().updateTeam({ teamId, settings: { rpmLimit: 1 } }, asMaster),
      () => client().getTeam({ teamId }, asMaster),
      () => client().deleteTeams({ teamIds: [teamId] }, asMaster),
      () => client().blockTeam({ teamId }, asMaster),
      () => client().unblockTeam({ teamId }, asMaster),
      () => client().addTeamMembers({ teamId, membersJson: '[{"role":"user","user_id":"u"}]' }, asMaster),
      () => client().removeTeamMember({ teamId, userId: "u" }, asMaster),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: Code.NotFound });
    }
  });

  it("refuses every team call without the master key", async () => {
    await createTeam("guarded");
    const { key } = await client().generateKey({}, asMaster);
    for (const [options, code] of [
      [{}, Code.Unauthenticated],
      [{ headers: { authorization: `Bearer ${key}` } }, Code.PermissionDenied],
    ] as const) {
      for (const call of [
        () => client().createTeam({ teamId: "intruder" }, options),
        () => client().updateTeam({ teamId: "guarded", settings: { maxBudget: 1000 } }, options),
        () => client().getTeam({ teamId: "guarded" }, options),
        () => client().listTeams({}, options),
        () => client().deleteTeams({ teamIds: ["guarded"] }, options),
        () => client().blockTeam({ teamId: "guarded" }, options),
        () => client().unblockTeam({ teamId: "guarded" }, options),
        () => client().addTeamMembers({ teamId: "guarded", membersJson: '[{"role":"admin","user_id":"me"}]' }, options),
        () => client().removeTeamMember({ teamId: "guarded", userId: "me" }, options),
      ]) {
        await expect(call()).rejects.toMatchObject({ code });
      }
    }
    const { team } = await client().getTeam({ teamId: "guarded" }, asMaster);
    expect(team).toMatchObject({ blocked: false, membersWithRolesJson: "[]" });
    expect(team?.maxBudget).toBeUndefined();
    await expect(client().getTeam({ teamId: "intruder" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("keys of a team", () => {
  it("are made only for a team that exists, with models inside the team's", async () => {
    await expect(client().generateKey({ settings: { teamId: "ghost-team" } }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    await createTeam("narrow", { models: { models: ["fast-model", "smart-model"] } });
    await expect(teamKey("narrow", ["fast-model", "other-model"])).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("other-model"),
    });
    const { hash } = await teamKey("narrow", ["smart-model"]);
    expect((await client().getTeam({ teamId: "narrow" }, asMaster)).keys.map((k) => k.keyHash)).toEqual([hash]);
  });

  it("are refused while their team is blocked, and let through once it is unblocked", async () => {
    await createTeam("blockable");
    const { key } = await teamKey("blockable");
    await ask(key);
    expect((await client().blockTeam({ teamId: "blockable" }, asMaster)).team?.blocked).toBe(true);
    await expect(ask(key)).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringContaining("blocked") });
    expect((await client().unblockTeam({ teamId: "blockable" }, asMaster)).team?.blocked).toBe(false);
    await expect(ask(key)).resolves.toMatchObject({ teamId: "blockable" });
  });

  it("may use only the models both they and their team allow", async () => {
    await createTeam("fast-only", { models: { models: ["fast-model"] } });
    const open = await teamKey("fast-only");
    expect((await ask(open.key)).models).toEqual(["fast-model"]);
    await expect(ask(open.key, "smart-model")).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringContaining("Team=fast-only may not use model=smart-model"),
    });
    // A key made while the team allowed more keeps only what both lists still share.
    await createTeam("shrinking", { models: { models: ["fast-model", "smart-model"] } });
    const both = await teamKey("shrinking", ["fast-model", "smart-model"]);
    expect((await ask(both.key)).models).toEqual(["fast-model", "smart-model"]);
    await client().updateTeam({ teamId: "shrinking", settings: { models: { models: ["fast-model", "third-model"] } } }, asMaster);
    expect((await ask(both.key)).models).toEqual(["fast-model"]);
    await expect(ask(both.key, "smart-model")).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringContaining("Team=shrinking") });
  });
});

describe("key and team tags", () => {
  it("give every request of the key its own metadata tags and its team's, each once, and follow changes", async () => {
    await createTeam("tagged", { metadataJson: '{"tags":["team:search","shared"]}' });
    const minted = await client().generateKey({ settings: { teamId: "tagged", metadataJson: '{"tags":["key:cli","shared",7]}' } }, asMaster);
    expect((await ask(minted.key)).tags).toEqual(["key:cli", "shared", "team:search"]);
    await client().updateTeam({ teamId: "tagged", settings: { metadataJson: "{}" } }, asMaster);
    expect((await ask(minted.key)).tags).toEqual(["key:cli", "shared"]);
    const plain = await client().generateKey({ settings: { metadataJson: '{"tags":"not-a-list"}' } }, asMaster);
    expect((await ask(plain.key)).tags).toEqual([]);
  });
});

describe("a team's limits, shared by its keys", () => {
  it("refuses every key of the team once one key has spent its budget", async () => {
    const team = await createTeam("budgeted", { maxBudget: RESERVATION * 1.5 });
    const a = await teamKey(team.teamId);
    const b = await teamKey(team.teamId);
    const auth = await ask(a.key, "fast-model", "spend-all");
    expect(auth.reserved).toBe(true);
    await client().release({ requestId: "spend-all", keyHash: a.hash, holder: auth.holder, cost: RESERVATION * 2 });
    expect((await client().getTeam({ teamId: team.teamId }, asMaster)).team?.spend).toBe(RESERVATION * 2);
    await expect(ask(b.key)).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining(`Budget has been exceeded! Team=budgeted Current cost: ${RESERVATION * 2}, Max budget: ${RESERVATION * 1.5}.`),
    });
    await expect(ask(a.key)).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });

  it("admits no more requests at once, across keys and replicas, than the team's budget can reserve", async () => {
    const fits = 5;
    const team = await createTeam("contended", { maxBudget: RESERVATION * (fits + 0.5) });
    const a = await teamKey(team.teamId);
    const b = await teamKey(team.teamId);
    const other = await service.replica();
    const cost = RESERVATION / 2;
    try {
      const replicas = [client(), clientOf(other)];
      // Every pairing of key and replica, ten times over, all at once.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => ask([a, b][(i >> 1) % 2]!.key, "fast-model", `burst-${i}`, replicas[i % 2])),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringContaining("Team=contended") });
        }
      }
      // Each released through the first replica, settled on the one holding it.
      await Promise.all(
        results.map((r, i) => (r.status === "fulfilled" ? client().release({ requestId: `burst-${i}`, keyHash: r.value.keyHash, holder: r.value.holder, cost }) : undefined)),
      );
    } finally {
      await other.stop();
    }
    // Only a release that found its reservation adds to the spend.
    expect((await client().getTeam({ teamId: team.teamId }, asMaster)).team?.spend).toBeCloseTo(fits * cost, 12);
  });

  it("counts requests per minute over all of the team's keys", async () => {
    await createTeam("rpm", { rpmLimit: 3 });
    const a = await teamKey("rpm");
    const b = await teamKey("rpm");
    // Four requests in the same minute window, so none of them sees it turn.
    await sameMinute();
    await ask(a.key);
    await ask(b.key);
    const third = await ask(a.key);
    expect(third.rateLimit).toMatchObject({ limitRequests: 3, remainingRequests: 0 });
    await expect(ask(b.key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("team") });
  });
});

describe("team members", () => {
  it("adds members, keeps one already in the team as it is, and removes one", async () => {
    await createTeam("people");
    const add = (membersJson: string) => client().addTeamMembers({ teamId: "people", membersJson }, asMaster);
    const ann = { role: "user", user_id: "ann" };
    const carol = { role: "admin", user_id: "carol" };
    await add('[{"role":"user","user_id":"ann"},{"role":"user","user_email":"bob@example.com"}]');
    // Ann (same user_id) keeps her role; Carol joins, without fields members do not have.
    const { team } = await add('[{"role":"admin","user_id":"ann"},{"role":"admin","user_id":"carol","extra":"dropped"}]');
    // Bob, named by email, is the user made for him.
    expect(members(team)).toEqual([ann, { role: "user", user_email: "bob@example.com", user_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }, carol]);
    await expect(add('[{"role":"admin","user_id":"ann"}]')).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("already in team people"),
    });
    const removed = await client().removeTeamMember({ teamId: "people", userEmail: "bob@example.com" }, asMaster);
    expect(members(removed.team)).toEqual([ann, carol]);
    await expect(client().removeTeamMember({ teamId: "people", userEmail: "bob@example.com" }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    expect(members((await client().getTeam({ teamId: "people" }, asMaster)).team)).toEqual([ann, carol]);
  });

  it("refuses members that are not a list of LiteLLM members", async () => {
    await createTeam("picky");
    for (const membersJson of ["not json", "[]", '{"role":"user","user_id":"x"}', '[{"role":"owner","user_id":"x"}]', '[{"role":"user"}]']) {
      await expect(client().addTeamMembers({ teamId: "picky", membersJson }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    }
    await expect(client().createTeam({ teamId: "picky-too", settings: { membersWithRolesJson: '[{"user_id":"x"}]' } }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    expect((await client().getTeam({ teamId: "picky" }, asMaster)).team?.membersWithRolesJson).toBe("[]");
  });

  it("keeps every member added at once, on either replica", async () => {
    await createTeam("crowd");
    const other = await service.replica();
    try {
      const replicas = [client(), clientOf(other)];
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => replicas[i % 2]!.addTeamMembers({ teamId: "crowd", membersJson: `[{"role":"user","user_id":"user-${i}"}]` }, asMaster)),
      );
    } finally {
      await other.stop();
    }
    const added = members((await client().getTeam({ teamId: "crowd" }, asMaster)).team) as { user_id: string }[];
    expect(added.map((m) => m.user_id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `user-${i}`).sort());
  });
});

describe("watchers of a team's changes", () => {
  it("are told once to forget everything for the changes made while they read nothing", async () => {
    await createTeam("changed-often");
    const watcher = client().watchKeys({})[Symbol.asyncIterator]();
    try {
      expect((await watcher.next()).value).toMatchObject({ all: true });
      for (let i = 0; i < 5; i++) await client().updateTeam({ teamId: "changed-often", settings: { teamAlias: `alias-${i}` } }, asMaster);
      const { hash } = await teamKey("changed-often");
      const events: { all: boolean; keyHash: string }[] = [];
      // Past any heartbeat, up to the key's own event.
      while (events.at(-1)?.keyHash !== hash) {
        const { value } = await watcher.next();
        if (value && (value.all || value.keyHash !== "")) events.push({ all: value.all, keyHash: value.keyHash });
      }
      expect(events).toEqual([
        { all: true, keyHash: "" },
        { all: false, keyHash: hash },
      ]);
    } finally {
      await watcher.return?.();
    }
  });
});

describe("deleting teams", () => {
  it("deletes a team with its keys", async () => {
    await createTeam("doomed", { maxBudget: 1 });
    const { key, hash } = await teamKey("doomed");
    const bystander = await client().generateKey({}, asMaster);
    await ask(key);
    const deleted = await client().deleteTeams({ teamIds: ["doomed"] }, asMaster);
    expect(deleted.teams.map((t) => t.teamId)).toEqual(["doomed"]);
    expect(deleted.deletedKeyHashes).toEqual([hash]);
    await expect(ask(key)).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(client().getTeam({ teamId: "doomed" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(ask(bystander.key)).resolves.toMatchObject({ keyHash: bystander.info?.keyHash });
  });

  it("deletes nothing when a team named is unknown", async () => {
    await createTeam("survivor");
    const { key } = await teamKey("survivor");
    await expect(client().deleteTeams({ teamIds: ["survivor", "no-such-team"] }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client().deleteTeams({ teamIds: [] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect((await client().getTeam({ teamId: "survivor" }, asMaster)).keys).toHaveLength(1);
    await expect(ask(key)).resolves.toMatchObject({ teamId: "survivor" });
  });

  it("starts a team made again under a deleted team's id from nothing, and counts its spend", async () => {
    const spendOnce = async (requestId: string) => {
      const { key } = await teamKey("reborn");
      const auth = await ask(key, "fast-model", requestId);
      await client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost: 0.01 });
    };
    await createTeam("reborn", { maxBudget: 1 });
    await spendOnce("reborn-1");
    await client().deleteTeams({ teamIds: ["reborn"] }, asMaster);
    await createTeam("reborn", { maxBudget: 1 });
    await spendOnce("reborn-2");
    expect((await client().getTeam({ teamId: "reborn" }, asMaster)).team?.spend).toBe(0.01);
  });
});
