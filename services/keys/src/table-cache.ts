import { driverMessage, type Bus, type Logger } from "@gateway/common";

// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;

export interface TableCacheOptions<Row, Record> {
  /** What the rows are, for logs: "team", "user". */
  what: string;
  /** Live subject on which a change is pushed to every keys replica. */
  subject: string;
  load: () => Promise<Row[]>;
  idOf: (row: Row) => string;
  toRecord: (row: Row) => Record;
  /** Told whenever the table changed: every key's answers may have. */
  onChange: () => void;
}

/**
 * A small table (teams, users) wholly in memory, so a model call never
 * waits on the database. Such rows are few and change rarely: any change
 * reloads them all, here and, by a push, on every other replica.
 */
export class TableCache<Row, Record> {
  private records = new Map<string, Record>();
  // Reloads are numbered as they start; one whose rows were read before a
  // later-started one's were applied changes nothing.
  private reads = 0;
  private applied = 0;
  private stopListening: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: TableCacheOptions<Row, Record>,
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    const reloadLogged = () => this.reload().catch((err: unknown) => this.logger.error({ err: driverMessage(err) }, `${this.options.what} reload failed`));
    this.stopListening = this.bus.listen(this.options.subject, reloadLogged);
    this.resyncTimer = setInterval(reloadLogged, RESYNC_MS);
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

  async reload(): Promise<void> {
    const read = ++this.reads;
    const rows = await this.options.load();
    if (read < this.applied) return;
    this.applied = read;
    this.records = new Map(rows.map((row) => [this.options.idOf(row), this.options.toRecord(row)]));
    this.options.onChange();
  }

  /** Applies a change here now and pushes it to every other replica. */
  async changed(): Promise<void> {
    await this.reload();
    this.bus.broadcast(this.options.subject, new Uint8Array(0));
  }
}
