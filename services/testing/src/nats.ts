import { randomBytes } from "node:crypto";
import { NatsBus } from "@gateway/common";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";

export interface TestBus {
  bus: NatsBus;
  url: string;
  stream: string;
  prefix: string;
  /** Closes the bus and deletes its stream and its stores' streams. */
  close(): Promise<void>;
}

/** A NatsBus on the real JetStream, in a stream and subject space of its own. */
export async function createTestBus(): Promise<TestBus> {
  const suffix = randomBytes(6).toString("hex");
  const stream = `TEST_${suffix}`;
  const prefix = `t${suffix}`;
  const bus = await NatsBus.connect({ url: NATS_URL, stream, prefix });
  return {
    bus,
    url: NATS_URL,
    stream,
    prefix,
    close: async () => {
      await bus.close();
      const nc = await connect({ servers: NATS_URL });
      try {
        const jsm = await jetstreamManager(nc);
        for await (const name of jsm.streams.names()) if (name === stream || name.startsWith(`${stream}_`)) await jsm.streams.delete(name);
      } finally {
        await nc.close();
      }
    },
  };
}
