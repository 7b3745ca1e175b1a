import { Code, ConnectError } from "@connectrpc/connect";
import { entryObject } from "@gateway/common";
import type { AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { teams as teamRows } from "../src/db/schema.js";
import { toTeamRecord, type TeamMember } from "../src/team-record.js";
import { RESERVATION, asMaster, clientOf, granted, heldReplica, keysService, type KeysClient } from "./support.js";

// A team member's own limits within its team (LiteLLM's max_budget_in_team,
// and the member's tpm_limit and rpm_limit): every key of that user in that
// team is held to them, beside the team's, on every replica.

const service = keysService();
const client = service.client;

let teams = 0;
/** A team with these members (members_with_roles entries). */
async function teamWith(...members: Record<string, unknown>[]): Promise<string> {
  const teamId = `members-${++teams}`;
  await client().createTeam({ teamId, settings: { membersWithRolesJson: JSON.stringify(members) } }, asMaster);
  return teamId;
}

const keyOf = async (teamId: string, userId: string): Promise<string> => (await client().generateKey({ settings: { teamId, userId } }, asMaster)).key;

let requests = 0;
const ask = (apiKey: string, requestId = `req-${++requests}`, via: KeysClient = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10 });
const release = (auth: AuthorizeResponse, requestId: string, cost: number) => client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });
const memberSpend = async (teamId: string) => entryObject((await client().getTeam({ teamId }, asMaster)).memberSpend);

/** The team's members as stored. */
const storedMembers = async (teamId: string) =>
  (await service.database().db.select({ members: teamRows.membersWithRoles }).from(teamRows).where(eq(teamRows.teamId, teamId)))[0]!.members as TeamMember[];

/** A member's limits in the team, as a replica loading the team now holds them. */
async function memberLimits(teamId: string, userId: string) {
  const [row] = await service.database().db.select().from(teamRows).where(eq(teamRows.teamId, teamId));
  return toTeamRecord(row!).members.get(userId)!;
}

describe("a team member's budget", () => {
  it("holds every key of the member in the team, and no other member's", async () => {
    const teamId = await teamWith({ role: "user", user_id: "alice", max_budget_in_team: RESERVATION * 1.5 }, { role: "user", user_id: "bob" });
    const [a1, a2, bob] = [await keyOf(teamId, "alice"), await keyOf(teamId, "alice"), await keyOf(teamId, "bob")];
    const auth = await ask(a1, "alice-1");
    expect(auth.reserved).toBe(true);
    await release(auth, "alice-1", RESERVATION * 2);
    expect(await memberSpend(teamId)).toEqual({ alice: RESERVATION * 2 });
    for (const key of [a1, a2]) {
      await expect(ask(key)).rejects.toMatchObject({
        code: Code.FailedPrecondition,
        rawMessage: expect.stringMatching(new RegExp(`^Budget has been exceeded! User=alice in Team=${teamId} Current cost: ${RESERVATION * 2}, `)),
      });
    }
    await expect(ask(bob)).resolves.toMatchObject({ reserved: false });
    // Alice's key outside the team is not held to her budget in it.
    const own = (await client().generateKey({ settings: { userId: "alice" } }, asMaster)).key;
    await expect(ask(own)).resolves.toMatchObject({ reserved: false });
  });

  it("is raised, cleared and set by /team/member_update, and a removed member starts afresh when added again", async () => {
    const teamId = await teamWith({ role: "user", user_id: "carol", max_budget_in_team: RESERVATION * 1.5 });
    const key = await keyOf(teamId, "carol");
    await release(await ask(key, "carol-1"), "carol-1", RESERVATION * 2);
    await expect(ask(key)).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await client().updateTeamMember({ teamId, userId: "carol", maxBudgetInTeam: RESERVATION * 10 }, asMaster);
    expect((await ask(key, "carol-2")).reserved).toBe(true);
    await client().updateTeamMember({ teamId, userId: "carol", clear: ["max_budget_in_team"], rpmLimit: 1000 }, asMaster);
    expect(JSON.parse((await client().getTeam({ teamId }, asMaster)).team!.membersWithRolesJson)).toEqual([{ role: "user", user_id: "carol", rpm_limit: 1000 }]);
    await client().updateTeamMember({ teamId, userId: "carol", clear: ["rpm_limit"], maxBudgetInTeam: RESERVATION * 1.5 }, asMaster);
    // The spend counted all along.
    expect(await memberSpend(teamId)).toEqual({ carol: RESERVATION * 2 });
    await client().removeTeamMember({ teamId, userId: "carol" }, asMaster);
    await client().addTeamMembers({ teamId, membersJson: JSON.stringify([{ role: "user", user_id: "carol", max_budget_in_team: RESERVATION * 1.5 }]) }, asMaster);
    expect(await memberSpend(teamId)).toEqual({ carol: 0 });
    expect((await ask(key)).reserved).toBe(true);
  });

  it("refuses updates of a member the team does not have, and bad limits", async () => {
    const teamId = await teamWith({ role: "user", user_id: "dave" });
    for (const req of [
      { teamId, userId: "nobody", maxBudgetInTeam: 1 },
      { teamId, maxBudgetInTeam: 1 },
      { teamId, userId: "dave", maxBudgetInTeam: -1 },
      { teamId, userId: "dave", role: "owner" },
      { teamId, userId: "dave", clear: ["role"] },
    ]) {
      await expect(client().updateTeamMember(req, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    }
    await expect(client().updateTeamMember({ teamId: "no-such-team", userId: "dave", maxBudgetInTeam: 1 }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client().addTeamMembers({ teamId, membersJson: JSON.stringify([{ role: "user", user_id: "eve", max_budget_in_team: "lots" }]) }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(client().updateTeamMember({ teamId, userId: "dave", maxBudgetInTeam: 1 }, {})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("admits no more requests at once, across the member's keys and replicas, than its budget can reserve", async () => {
    const fits = 3;
    const teamId = await teamWith({ role: "admin", user_id: "frank", max_budget_in_team: RESERVATION * (fits + 0.5) });
    const keys = [await keyOf(teamId, "frank"), await keyOf(teamId, "frank")];
    const other = await service.replica();
    try {
      const replicas = [client(), clientOf(other)];
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => ask(keys[i % 2]!, `burst-${teamId}-${i}`, replicas[Math.floor(i / 2) % 2]!)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") expect(ConnectError.from(r.reason).rawMessage).toContain(`User=frank in Team=${teamId}`);
      }
    } finally {
      await other.stop();
    }
  });

  it("is not given back what a replica still held of the budget of the membership removed before it was added again", async () => {
    const budget = RESERVATION * 100;
    const grace = { role: "user", user_id: "grace", max_budget_in_team: budget };
    const teamId = await teamWith(grace);
    const key = await keyOf(teamId, "grace");
    const removed = await memberLimits(teamId, "grace");
    // A replica takes a tenth of the member's budget for one request, and holds the rest unused.
    const held = heldReplica(service.database());
    let renewed: string;
    let taken: number;
    try {
      await held.limits.admit([removed], "grace-held", { tokens: 20, maxCost: RESERVATION });
      held.limits.settle("grace-held", RESERVATION, 20);
      await client().removeTeamMember({ teamId, userId: "grace" }, asMaster);
      await client().addTeamMembers({ teamId, membersJson: JSON.stringify([grace]) }, asMaster);
      await release(await ask(key, "grace-1"), "grace-1", RESERVATION);
      renewed = (await memberLimits(teamId, "grace")).allowanceId;
      taken = await granted(service.database(), renewed);
    } finally {
      // Stopping, it gives back what it held unused to the allowance it took from.
      await held.stop();
    }
    expect(taken).toBeGreaterThan(0);
    expect(await granted(service.database(), renewed)).toBe(taken);
    expect(await memberSpend(teamId)).toEqual({ grace: RESERVATION });
    expect(renewed).not.toBe(removed.allowanceId);
  });

  it("keeps when the membership began through changes, out of every answer, and begins it anew when the member is added again", async () => {
    const heidi = { role: "user", user_id: "heidi", max_budget_in_team: RESERVATION * 10 };
    const teamId = await teamWith(heidi);
    const key = await keyOf(teamId, "heidi");
    await release(await ask(key, "heidi-1"), "heidi-1", RESERVATION);
    const [began] = await storedMembers(teamId);
    expect(began?.added_at_ms).toEqual(expect.any(Number));
    await client().updateTeamMember({ teamId, userId: "heidi", role: "admin" }, asMaster);
    await client().updateTeam({ teamId, settings: { membersWithRolesJson: JSON.stringify([{ ...heidi, max_budget_in_team: RESERVATION * 20 }, { role: "user", user_id: "ivan" }]) } }, asMaster);
    const [kept, joined] = await storedMembers(teamId);
    expect(kept?.added_at_ms).toBe(began?.added_at_ms);
    expect(joined?.added_at_ms).toEqual(expect.any(Number));
    // What it spent stays with the membership.
    expect(await memberSpend(teamId)).toEqual({ heidi: RESERVATION });
    const { team } = await client().getTeam({ teamId }, asMaster);
    expect(JSON.parse(team!.membersWithRolesJson)).toEqual([{ ...heidi, max_budget_in_team: RESERVATION * 20 }, { role: "user", user_id: "ivan" }]);
    await client().updateTeam({ teamId, settings: { membersWithRolesJson: JSON.stringify([{ role: "user", user_id: "ivan" }]) } }, asMaster);
    await client().updateTeam({ teamId, settings: { membersWithRolesJson: JSON.stringify([heidi, { role: "user", user_id: "ivan" }]) } }, asMaster);
    const [again] = await storedMembers(teamId);
    expect(again?.added_at_ms).not.toBe(began?.added_at_ms);
    expect(await memberSpend(teamId)).toEqual({ heidi: 0 });
  });

  it("begins the membership anew for a member removed and added back within the same millisecond", async () => {
    const judy = { role: "user", user_id: "judy", max_budget_in_team: RESERVATION * 10 };
    const teamId = await teamWith(judy);
    const stamps = [(await memberLimits(teamId, "judy")).allowanceId];
    // Every change within the millisecond the team was made in.
    const now = vi.spyOn(Date, "now").mockReturnValue((await storedMembers(teamId))[0]!.added_at_ms!);
    try {
      await client().removeTeamMember({ teamId, userId: "judy" }, asMaster);
      await client().addTeamMembers({ teamId, membersJson: JSON.stringify([judy]) }, asMaster);
      stamps.push((await memberLimits(teamId, "judy")).allowanceId);
      await client().updateTeam({ teamId, settings: { membersWithRolesJson: "[]" } }, asMaster);
      await client().updateTeam({ teamId, settings: { membersWithRolesJson: JSON.stringify([judy]) } }, asMaster);
      stamps.push((await memberLimits(teamId, "judy")).allowanceId);
    } finally {
      now.mockRestore();
    }
    expect(new Set(stamps).size).toBe(3);
  });

  it("counts the member's requests per minute over its keys in the team", async () => {
    const teamId = await teamWith({ role: "user", user_id: "gina", rpm_limit: 2 });
    const [a, b] = [await keyOf(teamId, "gina"), await keyOf(teamId, "gina")];
    await sameMinute();
    await ask(a);
    await ask(b);
    await expect(ask(a)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "rpm limit (2) reached for this team member" });
  });
});
