import { randomUUID } from "node:crypto";
import type { TeamMember } from "../team-record.js";
import type { UserPatch } from "../user-store.js";
import type { AdminDeps } from "./context.js";
import { withUserDefaults } from "./user-defaults.js";

/**
 * The users that team members name, made when missing, as LiteLLM's team
 * calls make them: a member named by user_id is that user; one named by
 * user_email alone is the user with that email, or a new user with a new
 * id. A user made here gets what /user/new gives a user it is told nothing
 * about (default_internal_user_params), and the email unless another user
 * has it. Members come back with their user_id; `made` says whether any
 * user was made (the replicas' user caches then reload).
 */
export async function asUsers(deps: AdminDeps, members: TeamMember[]): Promise<{ members: TeamMember[]; made: boolean }> {
  let made = false;
  const named: TeamMember[] = [];
  for (const member of members) {
    const email = member.user_email;
    let userId = member.user_id ?? (email !== undefined ? (await deps.userStore.byEmail(email))?.userId : undefined) ?? randomUUID();
    if (!(await deps.userStore.byId(userId))) {
      const patch: UserPatch = {};
      withUserDefaults(deps, patch);
      const emailFree = email !== undefined && !(await deps.userStore.byEmail(email));
      if (await deps.userStore.insertAbsent({ userId, ...patch, ...(emailFree && { userEmail: email }) })) made = true;
      // Made at the same moment by another call, for this email: that user it is.
      else if (member.user_id === undefined && email !== undefined) userId = (await deps.userStore.byEmail(email))?.userId ?? userId;
    }
    named.push({ ...member, user_id: userId });
  }
  return { members: named, made };
}
