import type { Deployment } from "./config/deployment.js";
import type { CallEvent } from "./outcome.js";
import type { Usage } from "./providers/provider.js";

/** An answer as the cache keeps it. */
export interface CachedAnswer {
  /** The answer's events between Started and Finished: one response, or a stream's chunks. */
  events: readonly CallEvent[];
  /** The deployment that answered (the ledger names it on every hit). */
  deployment: Deployment;
  usage: Usage;
  usageEstimated: boolean;
  storedAt: number;
  expiresAt: number;
}

/** An answer larger than this is not kept (LiteLLM's in-memory cache has the same limit per item). */
export const MAX_CACHED_BYTES = 1024 * 1024;

/** The bytes an answer's events carry. */
export function answerBytes(events: readonly CallEvent[]): number {
  let bytes = 0;
  for (const { event } of events) {
    if (event.case === "response" || event.case === "chunk") bytes += event.value.length;
    else if (event.case === "namedChunk" || event.case === "media") bytes += event.value.data.length;
  }
  return bytes;
}

/**
 * The answers of one router replica, by cache key: each until its time is
 * up, and at most `maxEntries` of them (the least recently used goes first).
 * A Map's order is its insertion order, so a hit is moved to the end. Also
 * the calls on their way to an answer kept under a key, so that an
 * identical request made meanwhile waits for it rather than calling too.
 */
export class ResponseCache {
  private readonly entries = new Map<string, CachedAnswer>();
  private readonly leaders = new Map<string, Promise<void>>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.entries.size;
  }

  /** The answer kept under `key` that is still fresh and, when `maxAgeMs` is given, no older than that. */
  get(key: string, maxAgeMs: number | undefined): CachedAnswer | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    if (maxAgeMs !== undefined && now - entry.storedAt > maxAgeMs) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: CachedAnswer, maxEntries: number): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  /** The call on its way to an answer under `key`, if any: done (kept or not) when it settles. */
  leading(key: string): Promise<void> | undefined {
    return this.leaders.get(key);
  }

  /**
   * Notes a call on its way to an answer under `key`, when none is yet; the
   * function it returns says the call is over, kept or not.
   */
  lead(key: string): (() => void) | undefined {
    if (this.leaders.has(key)) return undefined;
    let over!: () => void;
    const done = new Promise<void>((resolve) => (over = resolve));
    this.leaders.set(key, done);
    return () => {
      if (this.leaders.get(key) === done) this.leaders.delete(key);
      over();
    };
  }

  delete(keys: Iterable<string>): void {
    for (const key of keys) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
