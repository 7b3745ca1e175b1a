import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { asMaster, keysServiceBehindCuts } from "./support.js";

// /user/new with teams: the keys service's connections to the real Postgres
// pass through a proxy that, when armed, cuts the connection that is about
// to change a team's members, as a network blip or a failover can.

const service = keysServiceBehindCuts();

describe("/user/new into a team whose connection is cut before the team has the member", () => {
  it("makes nothing, so the call tried again makes the user, its key and the membership", async () => {
    const client = service.client();
    await client.createTeam({ teamId: "cut-team" }, asMaster);
    service.cuts().cutWhenSent('update "keys"."teams" set');
    const failed = await client.createUser({ userId: "cut-user", teams: ["cut-team"], createKey: true }, asMaster).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(service.cuts().armed).toBe(false);
    // (Unavailable through the gateway's interceptors, which this transport has not.)
    expect(failed).toBeInstanceOf(ConnectError);
    const made = await client.createUser({ userId: "cut-user", teams: ["cut-team"], createKey: true }, asMaster);
    expect(made.key).toMatch(/^sk-/);
    const { team } = await client.getTeam({ teamId: "cut-team" }, asMaster);
    expect((JSON.parse(team!.membersWithRolesJson) as { user_id: string }[]).map((m) => m.user_id)).toEqual(["cut-user"]);
  });
});
