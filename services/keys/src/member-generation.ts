/**
 * When a membership of a team or organization began (epoch ms), kept beside
 * the member in the members list: the generation of the member's
 * allowances. A replica may still hold a share of a removed member's
 * allowance in memory and give it back later; named with this, the
 * allowance of the member added again is another, and the share lands on
 * the removed membership's (forgotten) instead, as a team's creation time
 * keeps a team made again under a deleted one's id apart.
 */
export interface Stamped {
  added_at_ms?: number;
}

/**
 * What a member's allowance ids carry after its team's or organization's:
 * `/member/`, the user id and `@` + when the membership began. Members
 * stored before memberships carried that have no stamp and keep the name
 * they had, and with it what they spent: nothing is migrated.
 */
export const memberPart = (userId: string, membership: Stamped): string =>
  `/member/${userId}${membership.added_at_ms === undefined ? "" : `@${membership.added_at_ms}`}`;

/**
 * The stamp for members joining now, given the latest one their team or
 * organization has given (its member_stamp_ms, read under its row lock):
 * later than that, so a member removed and added back within the same
 * millisecond (or on a replica whose clock is behind) is a new membership.
 */
export const nextStamp = (latest: number | null, now = Date.now()): number => Math.max(now, (latest ?? 0) + 1);

/** A member as it joins: stamped (nextStamp). */
export const joined = <M extends Stamped>(member: M, stamp: number): M => ({ ...member, added_at_ms: stamp });

/** Members as answers show them: LiteLLM's members carry no such stamp. */
export const unstamped = <M extends Stamped>(members: readonly M[]): Omit<M, "added_at_ms">[] => members.map(({ added_at_ms: _, ...member }) => member);
