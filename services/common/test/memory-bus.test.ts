import { describe, expect, it } from "vitest";
import { MemoryBus, type Delivery } from "../src/index.js";

describe("the in-process bus", () => {
  it("counts a message as stored only once its consumer has handled it", async () => {
    const bus = new MemoryBus();
    let finish: () => void = () => {};
    const handled: string[] = [];
    await bus.consume({ durable: "d", subject: "s", maxBatch: 10 }, async (batch: Delivery[]) => {
      await new Promise<void>((resolve) => (finish = resolve));
      for (const d of batch) handled.push(new TextDecoder().decode(d.data));
    });
    let stored = false;
    const publishing = bus.publish("s", "id-1", new TextEncoder().encode("one")).then(() => (stored = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stored).toBe(false);
    finish();
    await publishing;
    expect(handled).toEqual(["one"]);
    // The same id again is already stored: nothing is delivered twice.
    await bus.publish("s", "id-1", new TextEncoder().encode("one"));
    expect(handled).toEqual(["one"]);
    await bus.close();
  });

  it("gathers a trickle into one batch when asked to linger, and hands over what is queued on stop", async () => {
    const bus = new MemoryBus();
    const batches: number[] = [];
    const consumer = await bus.consume({ durable: "d", subject: "s", maxBatch: 100, lingerMs: 10_000 }, async (batch) => {
      batches.push(batch.length);
    });
    const published = [1, 2, 3].map((i) => bus.publish("s", `id-${i}`, new Uint8Array([i])));
    await consumer.stop();
    await Promise.all(published);
    expect(batches).toEqual([3]);
  });
});
