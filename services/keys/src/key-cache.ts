import { driverMessage, KEYS_DELETED_SUBJECT, type Bus, type Logger } from "@gateway/common";
import { toRecord, type KeyRecord, type KeyRow } from "./key-record.js";
import type { KeyStore } from "./key-store.js";

/** Live subject on which a changed key's hash is pushed to every keys replica. */
export const KEY_CHANGED_SUBJECT = "keys.changed";

// A hash that is in no table is remembered briefly, so a client hammering
// with a wrong key costs one query per interval, not one per request. A key
// made meanwhile is pushed and clears it.
const UNKNOWN_TTL_MS = 5_000;
// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Every virtual key in memory, so a model call never waits on the database.
 * Changes made on any replica arrive as pushes and are applied at once.
 */
export class KeyCache {
  private keys = new Map<string, KeyRecord>();
  private readonly unknown = new Map<string, number>();
  // Reads of the database are numbered as they start. A read applies only
  // where no later-started read has applied already: a reload whose rows
  // were read before a key's deletion must not bring the key back, nor an
  // older read of one key replace a newer one.
  private reads = 0;
  /** The number of the full reload last applied. */
  private reloadRead = 0;
  /** Per key, the number of the last single-key read applied, until a later full reload covers it. */
  private readonly appliedRead = new Map<string, number>();
  private readonly loading = new Map<string, Promise<KeyRecord | undefined>>();
  private stopListening: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<(hash: string | undefined) => void>();

  constructor(
    private readonly store: KeyStore,
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.resync();
    this.stopListening = this.bus.listen(KEY_CHANGED_SUBJECT, (data) => {
      this.refresh(decoder.decode(data)).catch((err: unknown) => this.logger.error({ err: driverMessage(err) }, "key refresh failed"));
    });
    this.resyncTimer = setInterval(() => {
      this.resync().catch((err: unknown) => this.logger.error({ err: driverMessage(err) }, "key resync failed"));
    }, RESYNC_MS);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.stopListening?.();
    clearInterval(this.resyncTimer);
  }

  /** Reloads every key from the database, as it does every 30 s. */
  async resync(): Promise<void> {
    const read = ++this.reads;
    const rows = await this.store.all();
    if (read < this.reloadRead) return;
    this.reloadRead = read;
    const keys = new Map(rows.map((row) => [row.keyHash, toRecord(row)]));
    for (const [hash, applied] of this.appliedRead) {
      if (applied < read) {
        this.appliedRead.delete(hash);
        continue;
      }
      // Read again since these rows were: that read stands.
      const newer = this.keys.get(hash);
      if (newer) keys.set(hash, newer);
      else keys.delete(hash);
    }
    this.keys = keys;
    // Hashes missed long enough ago to be asked again are forgotten: every
    // deleted key's hash lands here, and stayed until 100,000 piled up.
    const now = Date.now();
    for (const [hash, missedAt] of this.unknown) if (now - missedAt >= UNKNOWN_TTL_MS) this.unknown.delete(hash);
    // A change may have been missed (a push lost while NATS reconnected).
    this.notify(undefined);
  }

  /**
   * Calls `watcher` with the hash of every key reloaded here from now on
   * (a change made on this replica or pushed from another), or with
   * undefined when any key may have changed. Returns the function that stops it.
   */
  watch(watcher: (hash: string | undefined) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Tells watchers that any key may have changed (its team did). */
  anyChanged(): void {
    this.notify(undefined);
  }

  private notify(hash: string | undefined): void {
    for (const watcher of this.watchers) watcher(hash);
  }

  /** The key for a hash: from memory, or (for a hash not seen lately) from the database. */
  get(hash: string): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    const known = this.keys.get(hash);
    if (known) return known;
    const missedAt = this.unknown.get(hash);
    if (missedAt !== undefined && Date.now() - missedAt < UNKNOWN_TTL_MS) return undefined;
    let pending = this.loading.get(hash);
    if (!pending) {
      pending = this.refresh(hash).finally(() => this.loading.delete(hash));
      this.loading.set(hash, pending);
    }
    return pending;
  }

  /**
   * Reloads one key from the database (gone, changed or new). When the read
   * fails (the database unreachable), a copy held here is dropped, so the key
   * is read again at its next use rather than served as it was before a
   * change (a delete, a block) that may have committed.
   */
  async refresh(hash: string): Promise<KeyRecord | undefined> {
    const read = ++this.reads;
    let row: KeyRow | undefined;
    try {
      row = await this.store.byHash(hash);
    } catch (err) {
      if ((this.appliedRead.get(hash) ?? this.reloadRead) < read) {
        this.appliedRead.set(hash, read);
        if (this.keys.delete(hash)) this.notify(hash);
      }
      throw err;
    }
    // A read of this key that started later has been applied: it stands.
    if ((this.appliedRead.get(hash) ?? this.reloadRead) > read) return this.keys.get(hash);
    this.appliedRead.set(hash, read);
    const record = row && toRecord(row);
    // A hash that was not a key before and is not one now changed nothing.
    const changed = record !== undefined || this.keys.has(hash);
    if (record) {
      this.keys.set(hash, record);
      this.unknown.delete(hash);
    } else {
      this.keys.delete(hash);
      this.unknown.set(hash, Date.now());
      if (this.unknown.size > 100_000) this.unknown.clear();
    }
    if (changed) this.notify(hash);
    return record;
  }

  /**
   * Applies a change here now and pushes it to every other replica. The
   * change has committed: a key that cannot be read back here now is dropped
   * (refresh), and the other replicas are told all the same.
   */
  async changed(...hashes: string[]): Promise<void> {
    const reads = await Promise.allSettled(hashes.map((hash) => this.refresh(hash)));
    for (const hash of hashes) this.bus.broadcast(KEY_CHANGED_SUBJECT, encoder.encode(hash));
    // Keys read back as gone (deleted, or regenerated under a new hash): the routers drop their metric series.
    const deleted = hashes.filter((_, i) => reads[i]!.status === "fulfilled" && (reads[i] as PromiseFulfilledResult<KeyRecord | undefined>).value === undefined);
    if (deleted.length > 0) this.bus.broadcast(KEYS_DELETED_SUBJECT, encoder.encode(JSON.stringify(deleted)));
    const failed = reads.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) this.logger.warn({ err: driverMessage(failed.reason) }, "reading changed keys back failed; they are read again at their next use");
  }
}
