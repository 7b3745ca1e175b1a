import { DiscardPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { SharedStore, StoreLimits } from "./bus.js";

/**
 * A shared store in a JetStream stream of its own: each key is a subject
 * that keeps its last message only, read with a direct get (which any of
 * the stream's servers answers) and dropped by purging its subject. The
 * stream's limits drop values past their age and, when it is full, the
 * oldest first.
 */
export class NatsStore implements SharedStore {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly subjectPrefix: string,
  ) {}

  /**
   * Opens the store, making its stream or bringing an existing one's limits
   * to these (a stream kept for longer keeps its age).
   */
  static async open(js: JetStreamClient, stream: string, subjectPrefix: string, limits: StoreLimits): Promise<NatsStore> {
    const jsm = await js.jetstreamManager();
    const maxAge = nanos(limits.maxAgeMs);
    const existing = await jsm.streams.info(stream).catch(() => undefined);
    if (existing) {
      await jsm.streams.update(stream, { max_age: Math.max(existing.config.max_age, maxAge), max_bytes: limits.maxBytes });
    } else {
      await jsm.streams.add({
        name: stream,
        subjects: [`${subjectPrefix}.*`],
        max_msgs_per_subject: 1,
        max_age: maxAge,
        max_bytes: limits.maxBytes,
        discard: DiscardPolicy.Old,
        storage: StorageType.File,
        allow_direct: true,
      });
    }
    return new NatsStore(js, jsm, stream, subjectPrefix);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const stored = await this.jsm.direct.getMessage(this.stream, { last_by_subj: this.subject(key) });
    return stored?.data;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.js.publish(this.subject(key), value);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.jsm.streams.purge(this.stream, { filter: this.subject(key) })));
  }

  async clear(): Promise<void> {
    await this.jsm.streams.purge(this.stream);
  }

  private subject(key: string): string {
    if (!/^[\w-]+$/.test(key)) throw new Error(`a shared store key is letters, digits, - and _: ${JSON.stringify(key)}`);
    return `${this.subjectPrefix}.${key}`;
  }
}
