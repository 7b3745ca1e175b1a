import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useLeanAsyncResourceBind } from "../src/lean-async-bind.js";

const nodeBind = AsyncResource.prototype.bind;
const storage = new AsyncLocalStorage<string>();

beforeAll(() => useLeanAsyncResourceBind());
afterAll(() => {
  AsyncResource.prototype.bind = nodeBind;
});

describe("useLeanAsyncResourceBind", () => {
  it("replaces Node's bind", () => {
    expect(AsyncResource.prototype.bind).not.toBe(nodeBind);
  });

  it("runs the bound function in the resource's async scope, with its this, arguments and result", () => {
    const resource = storage.run("where it was bound", () => new AsyncResource("Test"));
    function fn(this: { name: string } | undefined, a: number, b: number) {
      return { store: storage.getStore(), self: this?.name, sum: a + b };
    }
    // Node's types leave out bind's second parameter, thisArg.
    const bind = resource.bind as (f: typeof fn, thisArg?: unknown) => typeof fn & { asyncResource: AsyncResource };
    const unbound = bind.call(resource, fn);
    const method = { name: "caller", m: unbound };
    expect(storage.run("elsewhere", () => method.m(1, 2))).toEqual({ store: "where it was bound", self: "caller", sum: 3 });
    const withThis = bind.call(resource, fn, { name: "given" });
    expect(storage.run("elsewhere", () => withThis.call(undefined, 2, 3))).toEqual({ store: "where it was bound", self: "given", sum: 5 });
    expect(unbound.length).toBe(2);
    expect(unbound.asyncResource).toBe(resource);
    expect(AsyncResource.bind(() => storage.getStore())()).toBeUndefined();
  });

  it("keeps an HTTP/2 request's events in the async scope the request was made in", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const seen = await Promise.all(
        ["first", "second"].map((name) =>
          storage.run(name, () => {
            const req = session.request({ ":path": "/" });
            req.resume();
            return new Promise<string | undefined>((resolve) => req.once("response", () => resolve(storage.getStore())));
          }),
        ),
      );
      expect(seen).toEqual(["first", "second"]);
    } finally {
      session.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
