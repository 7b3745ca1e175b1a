// How long before a value expires it is renewed while still in use…
const RENEW_BEFORE_MS = 5 * 60_000;
// …and how close to its expiry it is not used at all: a request waits for the new one.
const USABLE_FOR_MS = 30_000;

/** A value and when it stops being good, in ms since the epoch. */
export interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/**
 * A value that expires (an access token, temporary credentials), fetched
 * once and kept until shortly before it does: requests reuse it, the renewal
 * runs in the background while it is still good, and at most one fetch is
 * under way at a time. A failed renewal is tried again by the next request.
 */
export class Renewing<T> {
  private current: Expiring<T> | undefined;
  private renewal: Promise<T> | undefined;

  constructor(private readonly fetch: () => Promise<Expiring<T>>) {}

  /** The value in hand; a promise when there is none good enough to use. */
  get(): T | Promise<T> {
    const now = Date.now();
    const current = this.current;
    if (current !== undefined && current.expiresAt - now > RENEW_BEFORE_MS) return current.value;
    const renewal = (this.renewal ??= this.renew());
    if (current === undefined || current.expiresAt - now <= USABLE_FOR_MS) return renewal;
    renewal.catch(() => undefined);
    return current.value;
  }

  private async renew(): Promise<T> {
    try {
      this.current = await this.fetch();
      return this.current.value;
    } finally {
      this.renewal = undefined;
    }
  }
}

// Sources kept by content, bounded against a config that keeps changing while the process runs.
const MAX_SOURCES = 64;

/**
 * One Renewing per source of values (a credential, a role), whichever
 * deployments and config reloads use it: found by the object a deployment
 * holds, else by `key` (its content), so equal sources read again share one.
 */
export function renewingBy<Source extends object, T>(key: (source: Source) => string, fetch: (source: Source) => () => Promise<Expiring<T>>): (source: Source) => Renewing<T> {
  const byObject = new WeakMap<Source, Renewing<T>>();
  const byContent = new Map<string, Renewing<T>>();
  return (source) => {
    let renewing = byObject.get(source);
    if (renewing !== undefined) return renewing;
    const id = key(source);
    renewing = byContent.get(id);
    if (renewing === undefined) {
      if (byContent.size >= MAX_SOURCES) byContent.clear();
      renewing = new Renewing(fetch(source));
      byContent.set(id, renewing);
    }
    byObject.set(source, renewing);
    return renewing;
  };
}
