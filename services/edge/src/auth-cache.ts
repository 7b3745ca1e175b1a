import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@connectrpc/connect";
import type { Logger } from "@gateway/common";
import type { AuthorizeResponse, KeysService } from "@gateway/proto/keys/v1/keys_pb.js";

// Even while the keys service says nothing changed, an answer is asked for
// again after this long: the replica that answered may not have heard of a
// change yet when the one this edge watches already pushed it.
const MAX_REUSE_MS = 1_000;
// A watch stream silent for this long (the keys service beats every 2 s) is
// taken for dead; so is one that fails, and it is opened again after a pause.
const QUIET_MS = 6_000;
const RETRY_MS = 1_000;
const MAX_KEYS = 100_000;
// Answers kept per key: one per model, or per model with the end user and tags a request names.
const MAX_SCOPES_PER_KEY = 1_000;

interface Kept {
  response: AuthorizeResponse;
  until: number;
}

/** An Authorize call in flight whose answer others may share, and the generation it was asked in. */
interface Asking {
  answer: Promise<AuthorizeResponse>;
  token: number;
}

/**
 * Authorize answers kept by a split edge, so a model call on a key without
 * limits (or the master key) skips the hop to the keys service. An answer is
 * kept only while the keys service's WatchKeys stream is open, is dropped
 * when that stream says its key changed, and is all dropped when the stream
 * breaks, goes quiet or says changes may have been missed. Answers that
 * reserve anything are never kept: their limits are counted by the keys
 * service on every request. Requests that arrive together while no answer is
 * kept ask once (when a kept answer runs out, with many requests in flight).
 */
export class AuthCache {
  private readonly byKey = new Map<string, Map<string, Kept>>();
  /** Calls in flight by key hash and model. */
  private readonly asking = new Map<string, Asking>();
  /** Keys whose last answer reserved: their requests each ask for their own at once. */
  private readonly reserving = new Set<string>();
  /** Whether the watch stream is open and has said where it starts. */
  private live = false;
  /** Moves on every drop, so an answer asked for before a change is not kept after it. */
  private generation = 0;
  private readonly stopping = new AbortController();
  private watching: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly keys: Client<typeof KeysService>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running ??= this.watch();
  }

  /** The kept answer for a key hash and model (and end user), if there is one still good. */
  get(keyHash: string, model: string): AuthorizeResponse | undefined {
    const kept = this.byKey.get(keyHash)?.get(model);
    return kept && kept.until > Date.now() ? kept.response : undefined;
  }

  /** What put() needs to know that nothing changed since the answer was asked for. */
  token(): number {
    return this.generation;
  }

  /** Keeps an answer asked for when token() gave `token`, if it may be kept. */
  put(keyHash: string, model: string, response: AuthorizeResponse, token: number): void {
    if (!this.live || token !== this.generation || response.reserved || response.reusableUntilMs <= Date.now()) return;
    if (this.byKey.size >= MAX_KEYS) this.byKey.clear();
    let models = this.byKey.get(keyHash);
    if (!models) this.byKey.set(keyHash, (models = new Map()));
    else if (models.size >= MAX_SCOPES_PER_KEY) models.clear();
    models.set(model, { response, until: Math.min(response.reusableUntilMs, Date.now() + MAX_REUSE_MS) });
  }

  /**
   * The answer for a request no kept answer covers: that of a call already in
   * flight for the same key and model, when it could have been kept (it
   * reserves nothing, and nothing changed since it was asked), or else the
   * answer `ask` gets, which is kept when it may be.
   */
  async ask(keyHash: string, model: string, ask: () => Promise<AuthorizeResponse>): Promise<AuthorizeResponse> {
    const id = `${keyHash}\u0000${model}`;
    const inFlight = this.asking.get(id);
    if (inFlight && !this.reserving.has(keyHash)) {
      const shared = await inFlight.answer.catch(() => undefined);
      if (shared && !shared.reserved && inFlight.token === this.generation) return shared;
    }
    const token = this.generation;
    const answer = ask();
    if (!inFlight) {
      this.asking.set(id, { answer, token });
      const done = () => this.asking.delete(id);
      answer.then(done, done);
    }
    const response = await answer;
    if (response.reserved) {
      if (this.reserving.size >= MAX_KEYS) this.reserving.clear();
      this.reserving.add(keyHash);
    } else this.reserving.delete(keyHash);
    this.put(keyHash, model, response, token);
    return response;
  }

  /** Drops every kept answer; a change made through this edge calls it before answering. */
  clear(): void {
    this.generation++;
    this.byKey.clear();
  }

  async close(): Promise<void> {
    this.stopping.abort();
    this.watching?.abort();
    await this.running;
  }

  private forget(keyHash: string): void {
    this.generation++;
    this.byKey.delete(keyHash);
    // Its next answer says again whether it reserves; a deleted key's stayed here until 100,000 piled up.
    this.reserving.delete(keyHash);
  }

  private async watch(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const watching = new AbortController();
      this.watching = watching;
      let quiet: NodeJS.Timeout | undefined;
      const heard = () => {
        clearTimeout(quiet);
        quiet = setTimeout(() => watching.abort(), QUIET_MS);
        quiet.unref();
      };
      try {
        heard();
        for await (const event of this.keys.watchKeys({}, { signal: watching.signal })) {
          heard();
          if (event.all) {
            this.clear();
            this.live = true;
          } else if (event.keyHash !== "") this.forget(event.keyHash);
        }
      } catch (err) {
        if (!this.stopping.signal.aborted) this.logger.warn({ err: (err as Error).message }, "watching the keys service's key changes failed; asking it on every request until the watch is back");
      } finally {
        clearTimeout(quiet);
        this.live = false;
        this.clear();
      }
      await sleep(RETRY_MS, undefined, { ref: false, signal: this.stopping.signal }).catch(() => undefined);
    }
  }
}
