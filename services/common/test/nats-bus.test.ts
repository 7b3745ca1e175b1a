// @gateway/testing depends on this package, so it is not listed among its
// dependencies (turbo refuses cycles); the workspace links it all the same.
import { createTestBus, eventually, startThrowawayNats, type TestBus, type ThrowawayNats } from "@gateway/testing";
import { DiscardPolicy, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ReleaseRequestSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { BusClosedError, createLogger, NatsBus, NoListenerError, releaseCodec, releaseSubject, sendRelease } from "../src/index.js";
import { PUB_ACK_TIMEOUT_MS } from "../src/bus/jetstream-publisher.js";

const SUBJECT = "usage.v1";
const event = (i: number) => new TextEncoder().encode(`usage event ${i}`);
/** How a publish ended, read without leaving a rejection unhandled meanwhile. */
const outcome = (publish: Promise<void>): Promise<string> => publish.then(() => "stored", (err: Error) => err.message);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function manager(url: string): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: url });
  cleanups.push(() => nc.close());
  return { nc, jsm: await jetstreamManager(nc) };
}

describe("publishing on the real JetStream", () => {
  let testBus: TestBus;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    testBus = await createTestBus();
    nc = await connect({ servers: testBus.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await testBus?.close();
  });
  const stored = async () => (await jsm.streams.info(testBus.stream)).state.messages;

  it("resolves once the message is stored, under its id", async () => {
    const before = await stored();
    await testBus.bus.publish(SUBJECT, "stored-1", event(1));
    expect(await stored()).toBe(before + 1);
    const message = await jsm.streams.getMessage(testBus.stream, { last_by_subj: `${testBus.prefix}.durable.${SUBJECT}` });
    expect(message?.data).toEqual(event(1));
    expect(message?.header.get("Nats-Msg-Id")).toBe("stored-1");
  });

  it("stores a repeated id once, whether sent again later or at the same time", async () => {
    const before = await stored();
    await testBus.bus.publish(SUBJECT, "twice-1", event(1));
    await testBus.bus.publish(SUBJECT, "twice-1", event(1));
    await Promise.all([1, 2, 3].map(() => testBus.bus.publish(SUBJECT, "twice-2", event(2))));
    expect(await stored()).toBe(before + 2);
  });

  it("resolves thousands of publishes in flight at once, each stored exactly once", { timeout: 30_000 }, async () => {
    const before = await stored();
    const ids = Array.from({ length: 5000 }, (_, i) => `many-${i}`);
    // Every id twice, as a publisher retrying after a lost PubAck would.
    await Promise.all([...ids, ...ids].map((id, i) => testBus.bus.publish(SUBJECT, id, event(i))));
    expect(await stored()).toBe(before + ids.length);
  });

  it("rejects what JetStream refuses, and keeps publishing after it", async () => {
    const { config } = await jsm.streams.info(testBus.stream);
    await jsm.streams.update(testBus.stream, { max_msgs: await stored(), discard: DiscardPolicy.New });
    try {
      await expect(testBus.bus.publish(SUBJECT, "refused-1", event(1))).rejects.toThrow(/JetStream refused a message on .*usage\.v1: maximum messages exceeded/);
    } finally {
      await jsm.streams.update(testBus.stream, { max_msgs: config.max_msgs, discard: config.discard });
    }
    await testBus.bus.publish(SUBJECT, "refused-1", event(1));
  });

  it("rejects an id that would break the header block, and keeps publishing after it", async () => {
    await expect(testBus.bus.publish(SUBJECT, "bad\r\nNats-Expected-Stream: other", event(1))).rejects.toThrow(/CR or LF/);
    await testBus.bus.publish(SUBJECT, "good-after-bad", event(1));
  });
});

describe("consuming on the real JetStream", () => {
  it("hands every message over soon when two consumers share a durable, though each sees the other's as pending", { timeout: 30_000 }, async () => {
    const testBus = await createTestBus();
    cleanups.push(() => testBus.close());
    const second = await NatsBus.connect({ url: testBus.url, stream: testBus.stream, prefix: testBus.prefix });
    cleanups.push(() => second.close());
    const handled: string[] = [];
    const options = { durable: "shared", subject: SUBJECT, maxBatch: 50, lingerMs: 25 };
    const take = async (batch: { data: Uint8Array }[]) => {
      for (const { data } of batch) handled.push(new TextDecoder().decode(data));
    };
    const consumers = [await testBus.bus.consume(options, take), await second.consume(options, take)];
    cleanups.push(async () => {
      for (const consumer of consumers) await consumer.stop();
    });
    // Rounds of a few at once: each consumer gets part of every round, and a batch that waited on what went to the other would sit until redelivery (30 s).
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 7 }, (_, i) => testBus.bus.publish(SUBJECT, `shared-${round}-${i}`, event(round * 7 + i))));
    }
    await eventually("every message to be handed over well before a redelivery", async () => (handled.length >= 35 ? true : undefined), 10_000);
    expect(new Set(handled).size).toBe(35);
  });
});

describe("publishing when JetStream does not answer", () => {
  let nats: ThrowawayNats;
  beforeAll(async () => {
    nats = await startThrowawayNats();
  });
  afterAll(async () => {
    await nats?.close();
  });

  /** A bus whose stream is gone; with `swallow`, something else takes its messages and sends no PubAck. */
  async function busWithoutStream(name: string, swallow: boolean): Promise<{ bus: NatsBus; swallowed: () => number }> {
    const bus = await NatsBus.connect({ url: nats.url, stream: name, prefix: name.toLowerCase() });
    cleanups.push(() => bus.close());
    const { nc, jsm } = await manager(nats.url);
    await jsm.streams.delete(name);
    let swallowed = 0;
    if (swallow) {
      nc.subscribe(`${name.toLowerCase()}.durable.>`, {
        callback: () => {
          swallowed++;
        },
      });
      await nc.flush();
    }
    return { bus, swallowed: () => swallowed };
  }

  it("rejects a publish to a subject no stream stores", async () => {
    const { bus } = await busWithoutStream("NO_STREAM", false);
    await expect(bus.publish(SUBJECT, "nowhere-1", event(1))).rejects.toThrow(/no JetStream stream stores no_stream\.durable\.usage\.v1/);
  });

  it("rejects a publish whose PubAck does not come in time", { timeout: PUB_ACK_TIMEOUT_MS + 10_000 }, async () => {
    const { bus, swallowed } = await busWithoutStream("NO_ACK", true);
    const started = Date.now();
    await expect(bus.publish(SUBJECT, "unanswered-1", event(1))).rejects.toThrow(/did not acknowledge the message within/);
    expect(swallowed()).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(PUB_ACK_TIMEOUT_MS);
  });

  it("rejects what waits for a PubAck on close, and anything published after", async () => {
    const { bus, swallowed } = await busWithoutStream("CLOSING", true);
    const waiting = Array.from({ length: 100 }, (_, i) => outcome(bus.publish(SUBJECT, `closing-${i}`, event(i))));
    await eventually("the messages sent", async () => (swallowed() === 100 ? true : undefined));
    // And one not even sent yet.
    waiting.push(outcome(bus.publish(SUBJECT, "closing-late", event(0))));
    await bus.close();
    expect(new Set(await Promise.all(waiting))).toEqual(new Set(["the NATS bus closed before JetStream acknowledged the message"]));
    await expect(bus.publish(SUBJECT, "after-close", event(0))).rejects.toThrow(/closed/);
  });

  it("across a NATS restart: rejects what waits, refuses while down, publishes again once back", { timeout: 30_000 }, async () => {
    const { bus, swallowed } = await busWithoutStream("RESTART", true);
    const waiting = outcome(bus.publish(SUBJECT, "restart-1", event(1)));
    await eventually("the message sent", async () => (swallowed() === 1 ? true : undefined));
    await nats.stop("SIGKILL");
    // Well before the PubAck timeout: the connection is gone, so is any PubAck.
    expect(await waiting).toBe("the NATS connection dropped before JetStream acknowledged the message");
    await expect(bus.publish(SUBJECT, "restart-2", event(2))).rejects.toThrow(/not connected/);
    await nats.start();
    // A restarting service puts the stream back.
    const other = await NatsBus.connect({ url: nats.url, stream: "RESTART", prefix: "restart" });
    cleanups.push(() => other.close());
    await eventually(
      "a publish after the restart",
      () => bus.publish(SUBJECT, "restart-1", event(1)).then(() => true, () => undefined),
      20_000,
    );
    const { jsm } = await manager(nats.url);
    expect((await jsm.streams.info("RESTART")).state.messages).toBe(1);
  });
});

describe("confirmed live deliveries", () => {
  let nats: ThrowawayNats;
  beforeAll(async () => {
    nats = await startThrowawayNats();
  });
  afterAll(async () => {
    await nats?.close();
  });
  const bus = async () => {
    const b = await NatsBus.connect({ url: nats.url, stream: "LIVE", prefix: "live" });
    cleanups.push(() => b.close());
    return b;
  };

  it("resolves once a listener took the message, and tells no listener and a closed bus apart", async () => {
    const [listener, sender] = [await bus(), await bus()];
    const heard: string[] = [];
    listener.listen("notice", (data) => heard.push(new TextDecoder().decode(data)));
    // The subscription reaches NATS over the listener's own connection: until it has, the subject has no listener.
    await vi.waitFor(() => sender.deliver("notice", new TextEncoder().encode("taken"), 1_000), { timeout: 5_000, interval: 50 });
    expect(heard).toEqual(["taken"]);
    await expect(sender.deliver("nobody", new Uint8Array(), 1_000)).rejects.toBeInstanceOf(NoListenerError);
    await sender.close();
    await expect(sender.deliver("notice", new Uint8Array(), 1_000)).rejects.toBeInstanceOf(BusClosedError);
  });

  it("hands a Release sent while NATS is down to its holder once NATS is back", { timeout: 30_000 }, async () => {
    const [holder, sender] = [await bus(), await bus()];
    const settled: string[] = [];
    holder.listen(releaseSubject("replica-1"), (data) => settled.push(releaseCodec.decode(data).requestId));
    await nats.stop("SIGKILL");
    const sent = sendRelease(sender, create(ReleaseRequestSchema, { requestId: "during-outage", holder: "replica-1", cost: 0.5 }), createLogger("test", "silent"));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await nats.start();
    await sent;
    expect(settled).toEqual(["during-outage"]);
  });
});
