import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LightAbortController } from "../src/light-abort-controller.js";

// A server that never answers, so only an abort ends a request to it.
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("LightAbortController", () => {
  it("aborts once, with the reason given or an AbortError", () => {
    const given = new LightAbortController();
    let calls = 0;
    given.signal.addEventListener("abort", () => calls++);
    const reason = new Error("client went away");
    given.abort(reason);
    given.abort(new Error("second"));
    expect(calls).toBe(1);
    expect(given.signal.aborted).toBe(true);
    expect(given.signal.reason).toBe(reason);
    expect(() => given.signal.throwIfAborted()).toThrow(reason);

    const plain = new LightAbortController();
    expect(() => plain.signal.throwIfAborted()).not.toThrow();
    plain.abort();
    expect((plain.signal.reason as DOMException).name).toBe("AbortError");
  });

  it("cancels an undici request in flight", async () => {
    const controller = new LightAbortController();
    const pending = request(url, { signal: controller.signal });
    setTimeout(() => controller.abort(new DOMException("no answer in time", "TimeoutError")), 20);
    await expect(pending).rejects.toMatchObject({ name: "TimeoutError" });
  });

  it("cancels a node:timers sleep", async () => {
    const controller = new LightAbortController();
    const sleeping = sleep(60_000, undefined, { signal: controller.signal });
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ name: "AbortError" });
  });
});
