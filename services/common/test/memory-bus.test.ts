import { describe, expect, it } from "vitest";
import { DEDUPE_WINDOW } from "../src/bus/memory-bus.js";
import { BusClosedError, MemoryBus, NoListenerError, type Delivery } from "../src/index.js";

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

  it("remembers the last DEDUPE_WINDOW ids, forgetting the oldest first", async () => {
    const bus = new MemoryBus();
    let delivered = 0;
    await bus.consume({ durable: "d", subject: "s", maxBatch: 1000 }, async (batch) => {
      delivered += batch.length;
    });
    const data = new Uint8Array([1]);
    for (let i = 0; i <= DEDUPE_WINDOW; i++) await bus.publish("s", `id-${i}`, data);
    expect(delivered).toBe(DEDUPE_WINDOW + 1);
    // id-0 has left the window; id-1 and the newest are still in it.
    await bus.publish("s", "id-1", data);
    await bus.publish("s", `id-${DEDUPE_WINDOW}`, data);
    expect(delivered).toBe(DEDUPE_WINDOW + 1);
    await bus.publish("s", "id-0", data);
    expect(delivered).toBe(DEDUPE_WINDOW + 2);
    await bus.close();
  });

  it("delivers to a listener, or says there is none, or that it is closed", async () => {
    const bus = new MemoryBus();
    const heard: number[] = [];
    bus.listen("notice", (data) => heard.push(data[0]!));
    await bus.deliver("notice", new Uint8Array([7]));
    expect(heard).toEqual([7]);
    await expect(bus.deliver("nobody", new Uint8Array([1]))).rejects.toBeInstanceOf(NoListenerError);
    await bus.close();
    await expect(bus.deliver("notice", new Uint8Array([2]))).rejects.toBeInstanceOf(BusClosedError);
  });
});
