import { driverMessage, type Bus, type Logger } from "@gateway/common";

// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;
// A change of more rows than this reloads them all: one query, however many.
const MAX_CHANGED_IDS = 1_000;
// Ids taking more than this together are pushed as a change of the whole
// table: a NATS message holds 1 MB, and nothing bounds an id's length.
const MAX_PUSHED_BYTES = 256 * 1024;
/** A push of a change of the whole table (as replicas before ids were pushed send every change). */
const WHOLE_TABLE = new Uint8Array(0);

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

  constructor(
    private readonly options: TableCacheOptions<Row, Record>,
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    const logged = (what: string) => (err: unknown) => this.logger.error({ err: driverMessage(err) }, `${this.options.what} ${what} failed`);
    this.stopListening = this.bus.listen(this.options.subject, (data) => {
      const ids = idsOf(data);
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
    const named = encoder.encode(JSON.stringify(unique));
    try {
      await this.refresh(unique);
    } finally {
      this.bus.broadcast(this.options.subject, named.length <= MAX_PUSHED_BYTES ? named : WHOLE_TABLE);
    }
  }

  /** As changed(), for a change of rows not known one by one (a budget that many name): the whole table is read again everywhere. */
  async allChanged(): Promise<void> {
    try {
      await this.reload();
    } finally {
      this.bus.broadcast(this.options.subject, WHOLE_TABLE);
    }
  }
}

/** The ids a push names; undefined for a push of the whole table, or one not understood. */
function idsOf(data: Uint8Array): string[] | undefined {
  if (data.length === 0) return undefined;
  try {
    const ids: unknown = JSON.parse(decoder.decode(data));
    if (Array.isArray(ids) && ids.length > 0 && ids.length <= MAX_CHANGED_IDS && ids.every((id) => typeof id === "string")) return ids as string[];
  } catch {
    // Not ids: reloading everything is never wrong.
  }
  return undefined;
}
