import { randomUUID } from "node:crypto";
import { driverMessage, type Bus, type Logger } from "@gateway/common";

// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;
// A change of more rows than this reloads them all: one query, however many.
const MAX_CHANGED_IDS = 1_000;
// Ids taking more than this together are pushed as a change of the whole
// table: a NATS message holds 1 MB, and nothing bounds an id's length.
const MAX_PUSHED_BYTES = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TableCacheOptions<Row, Record> {
  /** What the rows are, for logs: "team", "user". */
  what: string;
  /** Live subject on which a change is pushed to every keys replica. */
  subject: string;
  load: () => Promise<Row[]>;
  /** The rows with these ids that exist (at most MAX_CHANGED_IDS are asked at once). */
  byIds: (ids: string[]) => Promise<Row[]>;
  idOf: (row: Row) => string;
  toRecord: (row: Row) => Record;
  /** Told whenever the table changed: every key's answers may have. */
  onChange: () => void;
}

/**
 * A small table (teams, users) wholly in memory, so a model call never
 * waits on the database. A change reads back only the rows it names, here
 * and, by a push of their ids, on every other replica; the whole table is
 * read at the start and every 30 s.
 */
export class TableCache<Row, Record> {
  private records = new Map<string, Record>();
  // Reads of the database are numbered as they start. A read applies only
  // where no later-started read has applied already: a reload whose rows
  // were read before a row's deletion must not bring the row back, nor an
  // older read of a row replace a newer one.
  private reads = 0;
  /** The number of the full reload last applied. */
  private reloadRead = 0;
  /** Per id, the number of the last read of that row applied, until a later full reload covers it. */
  private readonly appliedRead = new Map<string, number>();
  private stopListening: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  // Names this cache's pushes, which come back to it too (NATS echoes them,
  // the in-process bus calls every listener): a change was read here before
  // it was pushed. Not the process: two caches of a table in one process
  // must still hear each other.
  private readonly sender = randomUUID();

  constructor(
    private readonly options: TableCacheOptions<Row, Record>,
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    const logged = (what: string) => (err: unknown) => this.logger.error({ err: driverMessage(err) }, `${this.options.what} ${what} failed`);
    this.stopListening = this.bus.listen(this.options.subject, (data) => {
      const { from, ids } = pushOf(data);
      if (from === this.sender) return;
      if (ids) this.refresh(ids).catch(logged("refresh"));
      else this.reload().catch(logged("reload"));
    });
    this.resyncTimer = setInterval(() => this.reload().catch(logged("reload")), RESYNC_MS);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.stopListening?.();
    clearInterval(this.resyncTimer);
  }

  get(id: string): Record | undefined {
    return this.records.get(id);
  }

  all(): IterableIterator<Record> {
    return this.records.values();
  }

  /** Reads the whole table again, as at the start and every 30 s. */
  async reload(): Promise<void> {
    const read = ++this.reads;
    const rows = await this.options.load();
    if (read < this.reloadRead) return;
    this.reloadRead = read;
    const records = new Map(rows.map((row) => [this.options.idOf(row), this.options.toRecord(row)]));
    for (const [id, applied] of this.appliedRead) {
      if (applied < read) {
        this.appliedRead.delete(id);
        continue;
      }
      // Read again since these rows were: that read stands.
      if (this.records.has(id)) records.set(id, this.records.get(id) as Record);
      else records.delete(id);
    }
    this.records = records;
    this.options.onChange();
  }

  /** Reads the rows with these ids again: changed, made or gone. */
  async refresh(ids: readonly string[]): Promise<void> {
    const read = ++this.reads;
    const rows = await this.options.byIds([...ids]);
    const found = new Map(rows.map((row) => [this.options.idOf(row), row]));
    let changed = false;
    for (const id of ids) {
      // A read of this row that started later has been applied: it stands.
      if ((this.appliedRead.get(id) ?? this.reloadRead) > read) continue;
      this.appliedRead.set(id, read);
      const row = found.get(id);
      if (row) this.records.set(id, this.options.toRecord(row));
      // An id that was no row before and is none now changed nothing.
      else if (!this.records.delete(id)) continue;
      changed = true;
    }
    if (changed) this.options.onChange();
  }

  /**
   * Applies a change of the rows with these ids here now and pushes it to
   * every other replica. The change has committed: the others are told even
   * when reading it back here fails (the next resync reads it then).
   */
  async changed(ids: readonly string[]): Promise<void> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return;
    if (unique.length > MAX_CHANGED_IDS) return this.allChanged();
    const named = this.push(unique);
    try {
      await this.refresh(unique);
    } finally {
      this.bus.broadcast(this.options.subject, named.length <= MAX_PUSHED_BYTES ? named : this.push());
    }
  }

  /** As changed(), for a change of rows not known one by one (a budget that many name): the whole table is read again everywhere. */
  async allChanged(): Promise<void> {
    try {
      await this.reload();
    } finally {
      this.bus.broadcast(this.options.subject, this.push());
    }
  }

  /** A push from here of a change of these rows, or of the whole table. */
  private push(ids?: readonly string[]): Uint8Array {
    return encoder.encode(JSON.stringify({ from: this.sender, ids }));
  }
}

/** Who sent a push, and the ids it names; no ids for a change of the whole table, or a push not understood. */
interface Push {
  from?: string | undefined;
  ids?: string[] | undefined;
}

/**
 * Reads a push: `{"from", "ids"}`, or as replicas before senders were named
 * send it, a bare array of ids; empty (as replicas before ids were pushed
 * send every change) is a change of the whole table. A replica from before
 * senders were named reads the whole table for a push of either new form.
 */
function pushOf(data: Uint8Array): Push {
  if (data.length === 0) return {};
  let push: unknown;
  try {
    push = JSON.parse(decoder.decode(data));
  } catch {
    // Not a push understood: reloading everything is never wrong.
    return {};
  }
  if (Array.isArray(push)) return { ids: idsIn(push) };
  if (typeof push !== "object" || push === null) return {};
  const { from, ids } = push as { from?: unknown; ids?: unknown };
  return { from: typeof from === "string" ? from : undefined, ids: Array.isArray(ids) ? idsIn(ids) : undefined };
}

function idsIn(ids: unknown[]): string[] | undefined {
  return ids.length > 0 && ids.length <= MAX_CHANGED_IDS && ids.every((id) => typeof id === "string") ? (ids as string[]) : undefined;
}
