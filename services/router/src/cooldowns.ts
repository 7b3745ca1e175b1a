const MINUTE_MS = 60_000;

interface Failures {
  /** Start of the minute the failures are counted in. */
  windowStart: number;
  count: number;
  /** Cooling down until then (unix ms); 0 when not. */
  until: number;
}

/**
 * Deployments that failed too often lately sit out: more than allowed_fails
 * failures within a minute cool a deployment down for cooldown_time; it is
 * skipped meanwhile and comes back by itself when the time is up. Kept per
 * router replica, by deployment id, across config reloads.
 */
export class Cooldowns {
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts a failure of the deployment; true when it has just been cooled down. */
  failed(id: string, allowedFails: number, cooldownMs: number): boolean {
    const now = this.now();
    let f = this.failures.get(id);
    if (!f || now - f.windowStart >= MINUTE_MS) {
      f = { windowStart: now, count: 0, until: f?.until ?? 0 };
      this.failures.set(id, f);
    }
    f.count += 1;
    if (f.count <= allowedFails || cooldownMs <= 0) return false;
    f.until = now + cooldownMs;
    f.count = 0;
    f.windowStart = now;
    return true;
  }

  coolingDown(id: string): boolean {
    const f = this.failures.get(id);
    return f !== undefined && f.until > this.now();
  }

  /** LiteLLM's deployment state: 2 cooling down, 1 failed within the last minute, 0 neither. */
  state(id: string): 0 | 1 | 2 {
    const f = this.failures.get(id);
    if (!f) return 0;
    const now = this.now();
    if (f.until > now) return 2;
    return f.count > 0 && now - f.windowStart < MINUTE_MS ? 1 : 0;
  }

  /** Milliseconds until the first of these deployments comes back; 0 when one is available. */
  nextAvailableIn(ids: Iterable<string>): number {
    const now = this.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const id of ids) soonest = Math.min(soonest, Math.max(0, (this.failures.get(id)?.until ?? 0) - now));
    return Number.isFinite(soonest) ? soonest : 0;
  }

  /** Forgets deployments that left the model list. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.failures.keys()) if (!ids.has(id)) this.failures.delete(id);
  }
}
