import { randomUUID } from "node:crypto";
import type { NewUserRow } from "../user-store.js";
import type { AdminDeps } from "./context.js";
import { withUserDefaults } from "./user-defaults.js";

/** A user with what /user/new gives a user it is told nothing about (default_internal_user_params). */
function userRow(deps: AdminDeps, userId: string, email?: string): NewUserRow {
  const row: NewUserRow = { userId, ...(email !== undefined && { userEmail: email }) };
  withUserDefaults(deps, row);
  return row;
}

/** A team's or organization's member, as a call names it. */
interface NamedMember {
  user_id?: string;
  user_email?: string;
}

/**
 * The users that team or organization members name, made when missing, as
 * LiteLLM's member calls make them: a member named by user_id is that user
 * (made with the member's email unless another user has it); one named by
 * user_email alone is the user with that email (in any case), or a new user
 * with a new id, one for calls naming the same new email at once. Members
 * come back with their user_id; `made` says whether any user was made (the
 * replicas' user caches then reload).
 */
export async function asUsers<M extends NamedMember>(deps: AdminDeps, members: M[]): Promise<{ members: (M & { user_id: string })[]; made: boolean }> {
  let made = false;
  const named: (M & { user_id: string })[] = [];
  for (const member of members) {
    const email = member.user_email;
    let userId = member.user_id;
    if (userId !== undefined) {
      if (!(await deps.userStore.byId(userId))) {
        const inserted =
          (email !== undefined && (await deps.userStore.insertAbsent(userRow(deps, userId, email)))) || (await deps.userStore.insertAbsent(userRow(deps, userId)));
        made ||= inserted;
      }
    } else if (email !== undefined) {
      userId = (await deps.userStore.byEmail(email))?.userId;
      if (userId === undefined) {
        const fresh = randomUUID();
        const inserted = await deps.userStore.insertAbsent(userRow(deps, fresh, email));
        made ||= inserted;
        // Not inserted: another call made the user with this email first, and that user it is.
        userId = inserted ? fresh : ((await deps.userStore.byEmail(email))?.userId ?? fresh);
      }
    }
    // A member names a user_id or a user_email (checked as members are read).
    named.push({ ...member, user_id: userId! });
  }
  return { members: named, made };
}
