import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { ClosedConnectionError, connect, DrainingConnectionError, nanos, RequestError, type NatsConnection } from "@nats-io/transport-node";
import { BusClosedError, NoListenerError, REDELIVERY_DELAY_MS, type Bus, type ConsumeOptions, type Consumer, type Delivery, type SharedStore, type StoreLimits } from "./bus.js";
import { JetStreamPublisher } from "./jetstream-publisher.js";
import { NatsStore } from "./nats-store.js";

export interface NatsBusOptions {
  url: string;
  /** JetStream stream that stores the durable subjects. */
  stream?: string;
  /** Subject prefix: durable messages go to `<prefix>.durable.*`, pushes to `<prefix>.live.*`, shared stores' values to `<prefix>.store.*`. */
  prefix?: string;
}

const DUPLICATE_WINDOW_MS = 10 * 60_000;
const ACK_WAIT_MS = 30_000;
// Without a linger, how long a batch waits for messages said to be pending.
const PENDING_WAIT_MS = 25;

/** The bus over NATS: JetStream for durable messages, core NATS for live pushes. */
export class NatsBus implements Bus {
  private readonly publisher: JetStreamPublisher;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly prefix: string,
  ) {
    this.publisher = new JetStreamPublisher(nc);
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const stream = options.stream ?? "GATEWAY";
    const prefix = options.prefix ?? "gateway";
    const nc = await connect({ servers: options.url, name: "llm-gateway", maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(nc);
    const config = {
      name: stream,
      subjects: [`${prefix}.durable.>`],
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    try {
      await jsm.streams.info(stream);
      await jsm.streams.update(stream, { subjects: config.subjects, duplicate_window: config.duplicate_window });
    } catch {
      await jsm.streams.add(config);
    }
    return new NatsBus(nc, jetstream(nc), stream, prefix);
  }

  publish(subject: string, id: string, data: Uint8Array): Promise<void> {
    return this.publisher.publish(`${this.prefix}.durable.${subject}`, id, data);
  }

  async consume(options: ConsumeOptions, handler: (batch: Delivery[]) => Promise<void>): Promise<Consumer> {
    const jsm = await this.js.jetstreamManager();
    const concurrency = options.concurrency ?? 1;
    const limits = { ack_wait: nanos(ACK_WAIT_MS), max_ack_pending: options.maxBatch * (concurrency + 2) };
    try {
      await jsm.consumers.add(this.stream, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: `${this.prefix}.durable.${options.subject}`,
        ...limits,
      });
    } catch (err) {
      // The durable exists from an earlier version with other limits: adopt these.
      if (!(await jsm.consumers.info(this.stream, options.durable).catch(() => undefined))) throw err;
      await jsm.consumers.update(this.stream, options.durable, limits);
    }
    const consumer = await this.js.consumers.get(this.stream, options.durable);
    const messages = await consumer.consume({ max_messages: options.maxBatch * (concurrency + 1) });
    const running = new Set<Promise<void>>();
    const handle = async (taken: JsMsg[]) => {
      try {
        await handler(taken.map((m) => ({ subject: m.subject, data: m.data, redeliveries: m.info.deliveryCount })));
        for (const m of taken) m.ack();
      } catch {
        for (const m of taken) m.nak(REDELIVERY_DELAY_MS);
      }
    };
    const lingerMs = options.lingerMs ?? 0;
    let batch: JsMsg[] = [];
    let linger: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(linger);
      linger = undefined;
      if (batch.length === 0) return;
      const done: Promise<void> = handle(batch).finally(() => running.delete(done));
      running.add(done);
      batch = [];
    };
    const loop = (async () => {
      for await (const msg of messages) {
        batch.push(msg);
        // A full batch goes at once; otherwise wait for more while more is
        // waiting, or for up to lingerMs, so a quiet bus still commits soon
        // and a busy one commits in bulk. The wait is always bounded: what
        // is pending may go to another consumer of the durable (another
        // replica), and this batch must not wait for it.
        if (batch.length < options.maxBatch && (msg.info.pending > 0 || lingerMs > 0)) {
          linger ??= setTimeout(flush, lingerMs > 0 ? lingerMs : PENDING_WAIT_MS);
          continue;
        }
        flush();
        if (running.size >= concurrency) await Promise.race(running);
      }
      flush();
      await Promise.all(running);
    })();
    return {
      stop: async () => {
        await messages.close();
        await loop;
      },
      lag: async () => {
        const info = await consumer.info();
        return { pending: info.num_pending, ackPending: info.num_ack_pending };
      },
    };
  }

  broadcast(subject: string, data: Uint8Array): void {
    this.nc.publish(`${this.prefix}.live.${subject}`, data);
  }

  async deliver(subject: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    try {
      await this.nc.request(`${this.prefix}.live.${subject}`, data, { timeout: timeoutMs });
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) throw new NoListenerError(`no listener for ${subject}`, { cause: err });
      if (err instanceof ClosedConnectionError || err instanceof DrainingConnectionError) throw new BusClosedError("the bus is closed", { cause: err });
      throw err;
    }
  }

  listen(subject: string, handler: (data: Uint8Array) => void): () => void {
    const sub = this.nc.subscribe(`${this.prefix}.live.${subject}`, {
      callback: (_err, msg) => {
        handler(msg.data);
        // A delivery waits for this: the message is taken.
        if (msg.reply) msg.respond();
      },
    });
    return () => sub.unsubscribe();
  }

  /** A store in the stream `<stream>_<NAME>`, its keys under `<prefix>.store.<name>.`. */
  openStore(name: string, limits: StoreLimits): Promise<SharedStore> {
    return NatsStore.open(this.js, `${this.stream}_${name.toUpperCase()}`, `${this.prefix}.store.${name}`, limits);
  }

  async close(): Promise<void> {
    const connected = this.publisher.isConnected;
    this.publisher.close();
    if (this.nc.isClosed()) return;
    // Draining waits for the server to confirm; with the connection down
    // that wait ends only in an error, at the next failed reconnect, and
    // nothing is left to hand over to a server we cannot reach.
    if (connected) await this.nc.drain();
    else await this.nc.close();
  }
}
