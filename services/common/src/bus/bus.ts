/** One durably stored message handed to a consumer. */
export interface Delivery {
  subject: string;
  data: Uint8Array;
  /** Times this message was delivered, 1 on the first delivery. */
  redeliveries: number;
}

export interface ConsumeOptions {
  /** Consumers with the same durable name share the work (each message goes to one of them). */
  durable: string;
  /** Subject relative to the bus prefix, e.g. "usage.v1". */
  subject: string;
  maxBatch: number;
  /** Batches handled at once (default 1); each is acked on its own when its handler resolves. */
  concurrency?: number;
  /**
   * How long a batch that is not full waits for more messages (default 0):
   * at a steady trickle, one write per message would cost a database
   * statement per request.
   */
  lingerMs?: number;
}

export interface Consumer {
  stop(): Promise<void>;
  /** How far behind the consumer is: messages not yet delivered, and delivered but not yet acked. */
  lag(): Promise<{ pending: number; ackPending: number }>;
}

/**
 * The services' message bus. `publish`/`consume` are durable (JetStream):
 * a message is stored once per id and handed out until a handler acks it.
 * `broadcast`/`listen` are live pushes to every running listener (core NATS),
 * for notices such as "this key was revoked"; `deliver` is such a push that
 * a listener confirms (request and reply), for a sender that must know.
 */
export interface Bus {
  /** Resolves once the message is stored; a repeated id within the dedupe window is stored once. */
  publish(subject: string, id: string, data: Uint8Array): Promise<void>;
  /**
   * Calls `handler` with batches; a batch is acked when the handler resolves
   * and redelivered later when it throws.
   */
  consume(options: ConsumeOptions, handler: (batch: Delivery[]) => Promise<void>): Promise<Consumer>;
  broadcast(subject: string, data: Uint8Array): void;
  /**
   * Hands `data` to a listener of `subject` and resolves once one has taken
   * it; rejects when none has within `timeoutMs` (no listener, or the
   * connection is down), for the caller to send it again.
   */
  deliver(subject: string, data: Uint8Array, timeoutMs: number): Promise<void>;
  listen(subject: string, handler: (data: Uint8Array) => void): () => void;
  /**
   * A store of values by key that every replica on this bus shares; absent
   * on a bus that reaches no other process (the in-process one).
   */
  openStore?(name: string, limits: StoreLimits): Promise<SharedStore>;
  close(): Promise<void>;
}

/** Bounds on a shared store: past them, the oldest values go first. */
export interface StoreLimits {
  /** A value is dropped this long after it was put. */
  maxAgeMs: number;
  maxBytes: number;
}

/**
 * Values by key, shared by the replicas of a bus. A key is letters, digits,
 * `-` and `_`. Reads may miss a put made a moment before on another replica.
 */
export interface SharedStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  clear(): Promise<void>;
}

/** Pause before a failed batch is offered again. */
export const REDELIVERY_DELAY_MS = 1000;

/** `deliver` found nobody listening (the bus is up): the listener stopped or died, or is subscribing again after a reconnect. */
export class NoListenerError extends Error {}

/** `deliver` on a bus that was closed: sending again cannot help. */
export class BusClosedError extends Error {}
