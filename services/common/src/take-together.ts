/** A take from a shared store in flight for one lease: the least it asked for, and whether it got it. */
export interface Taking {
  need: number;
  done: Promise<boolean>;
}

/** One replica's lease on a shared limit, as takeTogether sees it. */
export interface TakingLease {
  taking: Taking | undefined;
}

export interface TakeTogether<L extends TakingLease> {
  /** The lease now (a new one when its window turned while waiting). */
  lease(): L;
  /** Whether the lease holds enough; may reserve it too. */
  enough(lease: L): boolean;
  /** How much more the lease needs. */
  missing(lease: L): number;
  /** Takes at least `need` from the store into the lease; false when the limit has no room. */
  takeMore(lease: L, need: number): Promise<boolean>;
}

/**
 * Makes a lease hold enough, taking more from the shared store when it does
 * not; false when the limit has no room. Calls arriving together wait for one
 * take instead of each taking a chunk: that would hoard the limit on this
 * replica and, once the store is full, refuse calls it has room for. A
 * waiter whose need is smaller than what a failed take asked for tries again
 * itself.
 */
export async function takeTogether<L extends TakingLease>(how: TakeTogether<L>): Promise<boolean> {
  for (;;) {
    const lease = how.lease();
    if (how.enough(lease)) return true;
    const need = how.missing(lease);
    const inFlight = lease.taking;
    if (inFlight) {
      if ((await inFlight.done) || need < inFlight.need) continue;
      return how.enough(how.lease());
    }
    // Cleared before anyone awaiting `done` resumes.
    const done = how.takeMore(lease, need).finally(() => {
      lease.taking = undefined;
    });
    lease.taking = { need, done };
    if (!(await done)) return how.enough(how.lease());
  }
}
