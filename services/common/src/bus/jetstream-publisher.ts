import { createInbox, MsgHdrsImpl, type Msg, type NatsConnection } from "@nats-io/transport-node";

/** How long a publish waits for its PubAck before it fails (JetStream's own default). */
export const PUB_ACK_TIMEOUT_MS = 5000;
/** How often waiting publishes are checked against their deadline. */
const SWEEP_INTERVAL_MS = 250;
/** How long a publish waits for others to share its socket write. */
const PUBLISH_LINGER_MS = 10;
/** Queued publishes that go out at once: a write this big gains nothing from waiting. */
const FULL_BATCH = 256;

interface WaitingPublish {
  token: number;
  subject: string;
  id: string;
  data: Uint8Array;
  /** performance.now() past which the publish fails. */
  deadline: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** What JetStream answers a publish with. */
interface PubAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

/**
 * Publishes to JetStream over core NATS and matches the PubAcks itself.
 *
 * `js.publish` is a NATS request, and per message nats-core builds a
 * `RequestError` for its stack, a timer with its own `TimeoutError`, and a
 * `RequestError("cancelled")` once it is answered. Instead, every publish
 * names `<inbox>.<token>` as its reply subject on one wildcard
 * subscription; a map finds the waiting publish by its token, and one
 * periodic sweep fails those whose PubAck is late. Nothing per message
 * allocates an Error unless that message fails. What that and the batching
 * below saved: docs/design-notes.md, "The usage publish".
 *
 * nats-core writes its buffer to the socket at the end of the microtask
 * queue that filled it, so publishes from different I/O callbacks (requests
 * finishing one by one) would cost a `write` each, and on loopback that
 * write, which also hands the bytes to nats-server, was the largest single
 * cost of a publish at ~1000 requests/s. Publishes therefore wait up to
 * PUBLISH_LINGER_MS (one timer for the lot) and go out together, as do their
 * PubAcks; a usage event reaches the ledger that much later, which nobody
 * waits on (the ledger consumer itself lingers 25 ms for its batches).
 *
 * A publish resolves only on a PubAck naming the stream that stored it
 * (a duplicate id counts: it is stored once). It fails on a refusal, on no
 * PubAck within PUB_ACK_TIMEOUT_MS, when the connection drops before the
 * PubAck (the PubAck can no longer arrive), while disconnected, and on
 * close. A caller retrying with the same id is safe: JetStream dedupes.
 */
export class JetStreamPublisher {
  private readonly inbox = createInbox();
  /** In token order, which is deadline order: the sweep stops at the first live one. */
  private readonly waiting = new Map<number, WaitingPublish>();
  private queued: WaitingPublish[] = [];
  private linger: NodeJS.Timeout | undefined;
  private nextToken = 0;
  private connected = true;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;
  /** One headers object for every message: `nc.publish` encodes it before it returns. */
  private readonly msgHeaders = new MsgIdHeaders();

  constructor(private readonly nc: NatsConnection) {
    nc.subscribe(`${this.inbox}.*`, {
      // An error here is a lost subscription (permissions); the sweep fails what waits.
      callback: (err, msg) => {
        if (!err) this.acknowledged(msg);
      },
    });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
    // It ends only when the connection closes, and then fails what waits.
    this.followConnection().catch(() => this.close());
  }

  publish(subject: string, id: string, data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the NATS bus is closed"));
    if (!this.connected) return Promise.reject(new Error("NATS is not connected"));
    return new Promise<void>((resolve, reject) => {
      const token = this.nextToken++;
      const publish: WaitingPublish = { token, subject, id, data, deadline: performance.now() + PUB_ACK_TIMEOUT_MS, resolve, reject };
      this.waiting.set(token, publish);
      if (this.queued.push(publish) >= FULL_BATCH) this.sendQueued();
      else this.linger ??= setTimeout(this.sendQueued, PUBLISH_LINGER_MS);
    });
  }

  /** Whether the connection is up: false from a disconnect until the reconnect. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Fails every publish still waiting; later ones fail at once. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.linger);
    this.queued = [];
    this.failWaiting("the NATS bus closed before JetStream acknowledged the message");
  }

  private readonly sendQueued = (): void => {
    clearTimeout(this.linger);
    this.linger = undefined;
    const queued = this.queued;
    this.queued = [];
    for (const publish of queued) {
      // Failed while queued (disconnect, close): its caller already knows.
      if (this.waiting.get(publish.token) !== publish) continue;
      try {
        this.msgHeaders.setMsgId(publish.id);
        this.nc.publish(publish.subject, publish.data, { headers: this.msgHeaders, reply: `${this.inbox}.${publish.token}` });
      } catch (err) {
        // A bad id (CR or LF), an oversized message, a closed connection.
        this.waiting.delete(publish.token);
        publish.reject(err as Error);
      }
    }
  };

  private acknowledged(msg: Msg): void {
    const token = Number(msg.subject.slice(this.inbox.length + 1));
    const publish = this.waiting.get(token);
    // Already failed (late PubAck): the caller's retry is deduped by id.
    if (publish === undefined) return;
    this.waiting.delete(token);
    const refusal = refusalIn(msg, publish.subject);
    if (refusal === undefined) publish.resolve();
    else publish.reject(refusal);
  }

  private sweep(): void {
    const now = performance.now();
    let late: Error | undefined;
    for (const [token, publish] of this.waiting) {
      if (publish.deadline > now) break;
      late ??= new Error(`JetStream did not acknowledge the message within ${PUB_ACK_TIMEOUT_MS} ms`);
      this.waiting.delete(token);
      publish.reject(late);
    }
  }

  /** Fails every waiting publish with one error: they all failed for the same reason. */
  private failWaiting(reason: string): void {
    if (this.waiting.size === 0) return;
    const err = new Error(reason);
    const failed = [...this.waiting.values()];
    this.waiting.clear();
    for (const publish of failed) publish.reject(err);
  }

  private async followConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "disconnect") {
        // PubAcks for what was sent on the lost connection can no longer arrive.
        this.connected = false;
        this.failWaiting("the NATS connection dropped before JetStream acknowledged the message");
      } else if (status.type === "reconnect") {
        this.connected = true;
      }
    }
    this.close();
  }
}

const MSG_ID = "Nats-Msg-Id";
const CR_OR_LF = /[\r\n]/;

/**
 * Headers holding Nats-Msg-Id, JetStream's dedupe key, and nothing else.
 * `headers().set()` canonicalises the key, lists the keys twice and builds a
 * RegExp on every call, and `encode()` allocates a fresh ArrayBuffer through
 * TextEncoder; with their garbage that came to 1-2 µs per message, against
 * 0.3 µs for this. Here the
 * key is fixed, the id goes straight into the map the base class reads,
 * and the same bytes come from Node's pooled buffers.
 */
class MsgIdHeaders extends MsgHdrsImpl {
  setMsgId(id: string): void {
    // Either would end the header block early and let an id smuggle protocol in.
    if (CR_OR_LF.test(id)) throw new Error(`a message id cannot hold CR or LF: ${JSON.stringify(id)}`);
    this.headers.set(MSG_ID, [id]);
  }

  override encode(): Uint8Array {
    return Buffer.from(this.toString());
  }
}

/** Why JetStream did not store the message, or undefined when it did. */
function refusalIn(msg: Msg, subject: string): Error | undefined {
  if (msg.data.length === 0) {
    // A status message instead of a PubAck: 503 means nothing listens on the subject.
    const code = msg.headers?.code ?? 0;
    return new Error(code === 503 ? `no JetStream stream stores ${subject}` : `JetStream answered ${code} to a message on ${subject}`);
  }
  let ack: PubAck;
  try {
    ack = JSON.parse(msg.string()) as PubAck;
  } catch {
    return new Error(`JetStream answered a message on ${subject} with something other than a PubAck`);
  }
  if (ack.error) return new Error(`JetStream refused a message on ${subject}: ${ack.error.description ?? "no reason given"} (${ack.error.err_code ?? ack.error.code})`);
  if (typeof ack.stream !== "string" || ack.stream === "") return new Error(`JetStream's PubAck for a message on ${subject} names no stream`);
  return undefined;
}
