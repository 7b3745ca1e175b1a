import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** A usage event waiting for JetStream's ack: its message id and bytes. */
export interface OutboxEntry {
  id: string;
  data: Uint8Array;
}

/** Where an appended entry was written, to settle it once it is stored. */
export interface OutboxTicket {
  segment: Segment;
}

interface Segment {
  path: string;
  fd: number | undefined;
  bytes: number;
  /** Entries written here and not yet settled. */
  outstanding: number;
}

const SEGMENT_BYTES = 1 << 20;
// usage-<pid>-<start ms>-<seq>.log: the owner's pid says whether a live
// router still writes it; the start time keeps a restarted router that got
// the same pid from reusing its predecessor's names.
const SEGMENT = /^usage-(\d+)-\d+-\d+\.log$/;
/** Segments an outbox of this process is appending to (tests run several routers in one process). */
const writing = new Set<string>();

/**
 * An on-disk write-ahead log of usage events on their way to JetStream. Every
 * event is appended before its publish starts and settled when JetStream
 * acks it; a segment file is deleted once every entry in it is settled. What
 * a crash or a long NATS outage leaves behind is replayed at the next start,
 * and replays are safe: JetStream dedupes by message id (the request id), and
 * the ledger by request id beyond JetStream's window.
 *
 * Writes are synchronous appends to the page cache (a few microseconds, no
 * fsync), one per entry: they survive the process being killed, not the
 * machine losing power. The log is bounded by `maxBytes`; past it,
 * append() refuses and the event lives in memory only until it is published.
 */
export class Outbox {
  private readonly segments = new Set<Segment>();
  private readonly replay: { entry: OutboxEntry; ticket: OutboxTicket }[] = [];
  private active: Segment | undefined;
  private nextSeq = 0;
  private readonly startedAt = Date.now();
  private totalBytes = 0;

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  /**
   * Opens the outbox in `dir` and adopts what routers that are gone left in
   * it. Routers may share the directory; each writes its own segments.
   */
  static open(dir: string, maxBytes: number): Outbox {
    mkdirSync(dir, { recursive: true });
    const outbox = new Outbox(dir, maxBytes);
    for (const name of readdirSync(dir).sort()) {
      const owner = Number(SEGMENT.exec(name)?.[1]);
      const path = join(dir, name);
      if (owner && (owner === process.pid || !isAlive(owner)) && !writing.has(path)) outbox.load(path);
    }
    return outbox;
  }

  private load(path: string): void {
    const bytes = readFileSync(path);
    const entries = decode(bytes);
    if (entries.length === 0) {
      unlinkSync(path);
      return;
    }
    const segment: Segment = { path, fd: undefined, bytes: bytes.length, outstanding: entries.length };
    this.segments.add(segment);
    this.totalBytes += bytes.length;
    for (const entry of entries) this.replay.push({ entry, ticket: { segment } });
  }

  /** What the last router left unsettled, each with the ticket that settles it; once. */
  takeReplay(): { entry: OutboxEntry; ticket: OutboxTicket }[] {
    return this.replay.splice(0);
  }

  /**
   * Writes an entry ahead of its publish, in one write: its ticket, or
   * undefined when it does not fit (the outbox is full). Throws what the
   * disk throws, and then keeps nothing.
   */
  append(entry: OutboxEntry): OutboxTicket | undefined {
    const record = encode(entry);
    if (this.totalBytes + record.length > this.maxBytes) return undefined;
    const segment = this.writable();
    let written = 0;
    try {
      written = writeSync(segment.fd!, record);
    } finally {
      // After a failed or short write (a full disk) the segment's tail may
      // hold part of a record: append nothing more behind it.
      if (written !== record.length) this.seal(segment);
    }
    if (written !== record.length) return undefined;
    segment.bytes += record.length;
    segment.outstanding += 1;
    this.totalBytes += record.length;
    if (segment.bytes >= SEGMENT_BYTES) this.seal(segment);
    return { segment };
  }

  /** The entry is stored in JetStream: forget it. */
  settle(ticket: OutboxTicket): void {
    const { segment } = ticket;
    segment.outstanding--;
    if (segment.outstanding === 0 && segment !== this.active) this.remove(segment);
  }

  /** Bytes on disk. */
  get size(): number {
    return this.totalBytes;
  }

  /** Closes the file; what is unsettled stays on disk for the next start. */
  close(): void {
    if (this.active) this.seal(this.active);
  }

  private writable(): Segment {
    if (this.active) return this.active;
    const path = join(this.dir, `usage-${process.pid}-${this.startedAt}-${this.nextSeq++}.log`);
    const segment: Segment = { path, fd: openSync(path, "a"), bytes: 0, outstanding: 0 };
    writing.add(path);
    this.segments.add(segment);
    this.active = segment;
    return segment;
  }

  private seal(segment: Segment): void {
    if (segment.fd !== undefined) closeSync(segment.fd);
    segment.fd = undefined;
    writing.delete(segment.path);
    if (this.active === segment) this.active = undefined;
    if (segment.outstanding === 0) this.remove(segment);
  }

  private remove(segment: Segment): void {
    if (!this.segments.delete(segment)) return;
    if (segment.fd !== undefined) closeSync(segment.fd);
    rmSync(segment.path, { force: true });
    this.totalBytes -= segment.bytes;
  }
}

// A record: id length (u32, big-endian), id (UTF-8), data length (u32), data.
function encode(entry: OutboxEntry): Buffer {
  const id = Buffer.from(entry.id, "utf8");
  const record = Buffer.allocUnsafe(8 + id.length + entry.data.length);
  record.writeUInt32BE(id.length, 0);
  id.copy(record, 4);
  record.writeUInt32BE(entry.data.length, 4 + id.length);
  record.set(entry.data, 8 + id.length);
  return record;
}

/** The whole records in a segment; a record cut short by a crash mid-write is ignored. */
function decode(bytes: Buffer): OutboxEntry[] {
  const entries: OutboxEntry[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const idLength = bytes.readUInt32BE(at);
    if (at + 8 + idLength > bytes.length) break;
    const dataLength = bytes.readUInt32BE(at + 4 + idLength);
    const end = at + 8 + idLength + dataLength;
    if (end > bytes.length) break;
    entries.push({ id: bytes.toString("utf8", at + 4, at + 4 + idLength), data: new Uint8Array(bytes.subarray(at + 8 + idLength, end)) });
    at = end;
  }
  return entries;
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
