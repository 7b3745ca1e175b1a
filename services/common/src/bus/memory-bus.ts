import { EventEmitter } from "node:events";
import { BusClosedError, NoListenerError, REDELIVERY_DELAY_MS, type Bus, type ConsumeOptions, type Consumer, type Delivery } from "./bus.js";

// Ids remembered for dedupe. In one process a publish only repeats when the
// publisher retries, within seconds; the ledger is idempotent on request id
// beyond that. Each id kept costs about 100 bytes.
export const DEDUPE_WINDOW = 20_000;

/** A message in a group's queue, and what to call once that group has handled it. */
interface Queued extends Delivery {
  handled: () => void;
}

interface Group {
  subject: string;
  maxBatch: number;
  queue: Queued[];
  handler: (batch: Delivery[]) => Promise<void>;
  running: boolean;
  /** Messages in the batch being handled. */
  handling: number;
  stopped: boolean;
  lingerMs: number;
  /** Set while a batch that is not full waits for more messages. */
  linger: NodeJS.Timeout | undefined;
  /** Resolves the waiters of stop() once the queue is empty. */
  idle: (() => void)[];
}

/**
 * The in-process bus for the one-process mode: same contract as JetStream
 * (dedupe by id, batches, redelivery on failure), no persistence. Messages
 * published before a durable group exists wait for it.
 */
export class MemoryBus implements Bus {
  private readonly seen = new Set<string>();
  /** The ids in `seen` by age: a ring whose next slot holds the oldest. */
  private readonly recent: (string | undefined)[] = new Array<string | undefined>(DEDUPE_WINDOW);
  private oldest = 0;
  private readonly groups = new Map<string, Group>();
  private readonly backlog: Queued[] = [];
  private readonly live = new EventEmitter();
  private closed = false;

  /**
   * Nothing here survives the process, so a message counts as stored only
   * once every consumer group has handled it: the publisher (and its disk
   * outbox) keeps it until then.
   */
  publish(subject: string, id: string, data: Uint8Array): Promise<void> {
    if (this.seen.has(id)) return Promise.resolve();
    this.seen.add(id);
    // Not seen.values().next(): a Set keeps deleted entries at its front
    // until it is rebuilt, and finding the first live one walks past them.
    const evicted = this.recent[this.oldest];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.recent[this.oldest] = id;
    this.oldest = (this.oldest + 1) % DEDUPE_WINDOW;
    const groups = [...this.groups.values()].filter((g) => g.subject === subject);
    return new Promise((resolve) => {
      if (groups.length === 0) {
        this.backlog.push({ subject, data, redeliveries: 1, handled: resolve });
        return;
      }
      let waiting = groups.length;
      const handled = () => {
        if (--waiting === 0) resolve();
      };
      for (const group of groups) {
        group.queue.push({ subject, data, redeliveries: 1, handled });
        this.drain(group);
      }
    });
  }

  async consume(options: ConsumeOptions, handler: (batch: Delivery[]) => Promise<void>): Promise<Consumer> {
    const group: Group = {
      ...options,
      queue: [],
      handler,
      running: false,
      handling: 0,
      stopped: false,
      lingerMs: options.lingerMs ?? 0,
      linger: undefined,
      idle: [],
    };
    this.groups.set(options.durable, group);
    for (let i = this.backlog.length - 1; i >= 0; i--) {
      const d = this.backlog[i];
      if (d?.subject === options.subject) {
        group.queue.unshift(d);
        this.backlog.splice(i, 1);
      }
    }
    this.drain(group);
    return {
      stop: async () => {
        // Hand over what is still queued before stopping: nothing else keeps it.
        group.lingerMs = 0;
        clearTimeout(group.linger);
        group.linger = undefined;
        this.drain(group);
        if (group.running || group.queue.length > 0) await new Promise<void>((resolve) => group.idle.push(resolve));
        group.stopped = true;
        this.groups.delete(options.durable);
      },
      lag: async () => ({ pending: group.queue.length, ackPending: group.handling }),
    };
  }

  private drain(group: Group): void {
    if (group.running || group.stopped) return;
    if (group.queue.length === 0) {
      for (const resolve of group.idle.splice(0)) resolve();
      return;
    }
    if (group.queue.length < group.maxBatch && group.lingerMs > 0) {
      group.linger ??= setTimeout(() => {
        group.linger = undefined;
        this.flush(group);
      }, group.lingerMs);
      return;
    }
    this.flush(group);
  }

  private flush(group: Group): void {
    if (group.running || group.stopped || group.queue.length === 0) return;
    clearTimeout(group.linger);
    group.linger = undefined;
    group.running = true;
    const batch = group.queue.splice(0, group.maxBatch);
    group.handling = batch.length;
    group.handler(batch).then(
      () => {
        group.handling = 0;
        group.running = false;
        for (const d of batch) d.handled();
        this.drain(group);
      },
      () => {
        group.handling = 0;
        for (const d of batch) d.redeliveries++;
        group.queue.unshift(...batch);
        setTimeout(() => {
          group.running = false;
          this.flush(group);
        }, REDELIVERY_DELAY_MS).unref();
      },
    );
  }

  broadcast(subject: string, data: Uint8Array): void {
    this.live.emit(subject, data);
  }

  async deliver(subject: string, data: Uint8Array): Promise<void> {
    if (this.closed) throw new BusClosedError("the bus is closed");
    if (!this.live.emit(subject, data)) throw new NoListenerError(`no listener for ${subject}`);
  }

  listen(subject: string, handler: (data: Uint8Array) => void): () => void {
    this.live.on(subject, handler);
    return () => this.live.off(subject, handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const group of this.groups.values()) group.stopped = true;
    this.groups.clear();
    this.live.removeAllListeners();
  }
}
