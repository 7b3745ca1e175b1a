import { TcpProxy, type ProxiedConnection } from "./tcp-proxy.js";

/** What a statement is known by in the bytes a client sends: a string in them (its text, or a parameter's value), or a test of them as text. */
export type StatementMark = string | ((sent: string) => boolean);

// The tags Postgres ends a statement's answer with (CommandComplete), sent
// once it has run and, outside a transaction, committed.
const COMPLETED = ["SELECT ", "UPDATE ", "INSERT ", "DELETE "];

const matches = (marks: readonly StatementMark[], bytes: Buffer): boolean =>
  marks.some((mark) => (typeof mark === "string" ? bytes.includes(mark) : mark(bytes.toString("latin1"))));

/**
 * A TcpProxy in front of a Postgres server that breaks the connection of
 * one statement, once armed, as a network blip or a failover can: as the
 * statement is sent, so Postgres never has it (`cutWhenSent`), or as its
 * answer comes back, so Postgres ran it and the client never hears
 * (`loseAnswerTo`). Each arming cuts once, at the first statement any of
 * its marks matches.
 */
export class StatementCuts {
  private sending: readonly StatementMark[] = [];
  private answering: readonly StatementMark[] = [];
  private readonly watching = new WeakSet<ProxiedConnection>();

  private constructor(readonly proxy: TcpProxy) {}

  /** The proxy in front of the server a postgres:// URL names; open the database at `urlTo(url)`. */
  static async inFrontOf(url: string): Promise<StatementCuts> {
    const { hostname, port } = new URL(url);
    let cuts: StatementCuts | undefined;
    const proxy = await TcpProxy.start(
      { host: hostname, port: Number(port || 5432) },
      {
        fromClient: (bytes, connection) => cuts!.fromClient(bytes, connection),
        fromTarget: (bytes, connection) => cuts!.fromTarget(bytes, connection),
      },
    );
    cuts = new StatementCuts(proxy);
    return cuts;
  }

  /** `url` with its host and port made the proxy's. */
  urlTo(url: string): string {
    return this.proxy.urlTo(url);
  }

  cutWhenSent(...marks: StatementMark[]): void {
    this.sending = marks;
  }

  loseAnswerTo(...marks: StatementMark[]): void {
    this.answering = marks;
  }

  /** Whether an arming has not met its statement yet (one losing an answer cuts when that answer comes, just after). */
  get armed(): boolean {
    return this.sending.length > 0 || this.answering.length > 0;
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  private fromClient(bytes: Buffer, connection: ProxiedConnection): void {
    if (matches(this.sending, bytes)) {
      this.sending = [];
      return connection.cut();
    }
    if (matches(this.answering, bytes)) {
      this.answering = [];
      this.watching.add(connection);
    }
    connection.target.write(bytes);
  }

  private fromTarget(bytes: Buffer, connection: ProxiedConnection): void {
    if (this.watching.has(connection) && COMPLETED.some((tag) => bytes.includes(tag))) return connection.cut();
    connection.client.write(bytes);
  }
}
