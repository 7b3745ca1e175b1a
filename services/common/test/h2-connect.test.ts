import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { CheckHealthResponseSchema, RouterService, type CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import { create } from "@bufbuild/protobuf";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayError, INTERNAL_CREDENTIAL_HEADER, InternalCredential, serveConnect } from "../src/index.js";
import { h2Transport } from "../src/h2-transport.js";
import { transportClient } from "../src/transport-client.js";

// The lean Connect client (transport-client.ts over h2-transport.ts) and
// server path (h2-handlers.ts) against each other and against connect-node's
// own client and server, so each speaks the protocol connect-node speaks.

const BIG = 1_000_000;
const MANY = 500;

/** What the handlers saw, for the assertions. */
const seen = { authorization: "", cancelled: [] as string[] };

const impl: Partial<ServiceImpl<typeof RouterService>> = {
  async checkHealth(req, ctx) {
    seen.authorization = ctx.requestHeader.get("authorization") ?? "";
    if (req.model === "missing") throw gatewayError("no such model", Code.NotFound, { type: "not_found_error", status: 404, headers: { "retry-after": "7" } });
    if (req.model === "slow") await waitForAbort(ctx);
    if (req.model === "db-down") throw await unreachableDatabaseError();
    ctx.responseHeader.set("x-answered-by", "test");
    ctx.responseTrailer.set("x-spent", "0.5");
    return create(CheckHealthResponseSchema, { healthy: [{ modelGroup: req.model }] });
  },
  async *complete(req: CompleteRequest, ctx: HandlerContext) {
    ctx.responseTrailer.set("x-spent", "1.5");
    yield { event: { case: "started", value: { modelGroup: req.requestId } } };
    if (req.requestId === "fail") throw gatewayError("the provider fell over", Code.Unavailable, { type: "api_error", status: 503 });
    if (req.requestId === "db-down") throw await unreachableDatabaseError();
    if (req.requestId === "hang") {
      await waitForAbort(ctx);
      seen.cancelled.push(req.requestId);
      return;
    }
    const chunks = req.requestId === "many" ? MANY : 1;
    for (let i = 0; i < chunks; i++) yield { event: { case: "chunk", value: new Uint8Array(req.requestId === "big" ? BIG : 3).fill(i % 256) } };
    yield { event: { case: "finished", value: { promptTokens: 1n, completionTokens: 2n, cost: 0.25 } } };
  },
};

/** What postgres.js throws for a query to a database nobody listens for. */
async function unreachableDatabaseError(): Promise<unknown> {
  const sql = postgres("postgres://postgres@127.0.0.1:1/none", { max: 1, connect_timeout: 2 });
  try {
    await sql`select 1`;
    return new Error("the query ran");
  } catch (err) {
    return err;
  } finally {
    await sql.end();
  }
}

function waitForAbort(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
}

const routes = (router: ConnectRouter) => router.service(RouterService, impl);

// What the calls carry and the servers ask for (internal-credential.test.ts has the refusals).
const credential = new InternalCredential("sk-h2-connect-test-master");
const serve = (options: { port?: number; maxMessageBytes?: number } = {}, served: (router: ConnectRouter) => void = routes) => serveConnect(served, { port: 0, host: "127.0.0.1", credential, ...options });
const ourTransport = (url: string) => h2Transport(url, credential);

/** connect-node's server alone, as a peer that predates h2-handlers.ts would run it. */
async function plainConnectServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.close();
      }),
  };
}

type RouterClient = Client<typeof RouterService>;
const connectNodeTransport = (url: string, useBinaryFormat = true) => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat, interceptors: [credential.sender] });

const pairings: { name: string; client: (url: string) => RouterClient; server: "ours" | "connect-node"; cancelsWhenLeft: boolean }[] = [
  { name: "our client, our server", client: (url) => transportClient(RouterService, ourTransport(url)), server: "ours", cancelsWhenLeft: true },
  { name: "connect-node's client, our server", client: (url) => createClient(RouterService, connectNodeTransport(url)), server: "ours", cancelsWhenLeft: false },
  { name: "our client, connect-node's server", client: (url) => transportClient(RouterService, ourTransport(url)), server: "connect-node", cancelsWhenLeft: true },
  // What a split edge runs with tracing on or a TLS peer.
  { name: "our client over connect-node's transport, our server", client: (url) => transportClient(RouterService, connectNodeTransport(url)), server: "ours", cancelsWhenLeft: false },
];

describe.each(pairings)("Connect over HTTP/2: $name", ({ client: clientFor, server: serverKind, cancelsWhenLeft }) => {
  let url: string;
  let close: () => Promise<void>;
  let client: RouterClient;

  beforeAll(async () => {
    if (serverKind === "ours") {
      const server = await serve();
      url = `http://127.0.0.1:${server.port}`;
      close = () => server.close(0);
    } else {
      ({ url, close } = await plainConnectServer());
    }
    client = clientFor(url);
  });
  afterAll(() => close());

  it("makes a unary call with the caller's headers, and returns the handler's headers and trailers", async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await client.checkHealth(
      { model: "fast-model" },
      { headers: { authorization: "Bearer sk-test" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    expect(res.healthy.map((h) => h.modelGroup)).toEqual(["fast-model"]);
    expect(seen.authorization).toBe("Bearer sk-test");
    expect(header?.get("x-answered-by")).toBe("test");
    expect(trailer?.get("x-spent")).toBe("0.5");
  });

  it("brings a handler's error back with its code and metadata", async () => {
    const err = await client.checkHealth({ model: "missing" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    const ce = err as ConnectError;
    expect(ce.code).toBe(Code.NotFound);
    expect(ce.rawMessage).toBe("no such model");
    expect(ce.metadata.get("x-error-type")).toBe("not_found_error");
    expect(ce.metadata.get("x-http-status")).toBe("404");
    expect(ce.metadata.get("x-error-header-retry-after")).toBe("7");
  });

  it("streams a server-streaming call's messages in order, a large one included, with the trailers at the end", async () => {
    let trailer: Headers | undefined;
    const cases: string[] = [];
    let chunkBytes = 0;
    for await (const res of client.complete({ requestId: "big" }, { onTrailer: (t) => (trailer = t) })) {
      cases.push(res.event.case ?? "");
      if (res.event.case === "chunk") chunkBytes = res.event.value.length;
    }
    expect(cases).toEqual(["started", "chunk", "finished"]);
    expect(chunkBytes).toBe(BIG);
    expect(trailer?.get("x-spent")).toBe("1.5");
  });

  it("delivers every message of a long stream to a caller that reads slowly", async () => {
    const firstBytes: number[] = [];
    for await (const res of client.complete({ requestId: "many" })) {
      if (res.event.case !== "chunk") continue;
      firstBytes.push(res.event.value[0]!);
      if (firstBytes.length % 100 === 0) await sleep(20);
    }
    expect(firstBytes).toEqual(Array.from({ length: MANY }, (_, i) => i % 256));
  });

  it("ends a stream with the handler's error after the messages sent before it", async () => {
    const cases: string[] = [];
    const err = await (async () => {
      for await (const res of client.complete({ requestId: "fail" })) cases.push(res.event.case ?? "");
    })().catch((e: unknown) => e);
    expect(cases).toEqual(["started"]);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).metadata.get("x-http-status")).toBe("503");
  });

  it("cancels the handler when the caller aborts mid-stream", async () => {
    const abort = new AbortController();
    const err = await (async () => {
      for await (const res of client.complete({ requestId: "hang" }, { signal: abort.signal })) {
        if (res.event.case === "started") abort.abort();
      }
    })().catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Canceled);
    for (let i = 0; i < 100 && !seen.cancelled.includes("hang"); i++) await sleep(20);
    expect(seen.cancelled).toContain("hang");
    seen.cancelled.length = 0;
  });

  // With connect-node's client or transport, a caller that stops reading
  // leaves the call running until it aborts its signal (the edge does both).
  it.runIf(cancelsWhenLeft)("cancels the handler when the caller stops reading mid-stream", async () => {
    const cases: string[] = [];
    for await (const res of client.complete({ requestId: "hang" })) {
      cases.push(res.event.case ?? "");
      break;
    }
    expect(cases).toEqual(["started"]);
    for (let i = 0; i < 100 && !seen.cancelled.includes("hang"); i++) await sleep(20);
    expect(seen.cancelled).toContain("hang");
    seen.cancelled.length = 0;
  });

  it("gives up on a call past its deadline", async () => {
    const err = await client.checkHealth({ model: "slow" }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
  });

  it("keeps serving after all of that, with many calls in flight", async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => client.checkHealth({ model: `m${i}` })));
    expect(answers.map((a) => a.healthy[0]?.modelGroup)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });
});

describe("our server's other calls", () => {
  it("answers a call whose bytes are not its request message with invalid_argument, and keeps serving", async () => {
    const server = await serve();
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    const send = (path: string, contentType: string, body: Buffer) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": path, "content-type": contentType, [INTERNAL_CREDENTIAL_HEADER]: credential.headerValue() });
        const chunks: Buffer[] = [];
        let status = 0;
        req.on("response", (h) => (status = Number(h[":status"])));
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve({ status, body: Buffer.concat(chunks) }));
        req.on("error", reject);
        req.end(body);
      });
    try {
      // A field tag with wire type 7, which protobuf does not have.
      const unary = await send("/gateway.router.v1.RouterService/CheckHealth", "application/proto", Buffer.from([0x0f, 0x01]));
      expect(unary.status).toBe(400);
      expect(JSON.parse(unary.body.toString())).toMatchObject({ code: "invalid_argument" });
      // A stream's request cut short: the envelope promises more bytes than follow.
      const cut = Buffer.from([0, 0, 0, 0, 9, 1, 2]);
      const stream = await send("/gateway.router.v1.RouterService/Complete", "application/connect+proto", cut);
      expect(stream.status).toBe(200);
      expect(stream.body[0]).toBe(2);
      expect(JSON.parse(stream.body.subarray(5).toString())).toMatchObject({ error: { code: "invalid_argument" } });
      const client = transportClient(RouterService, ourTransport(`http://127.0.0.1:${server.port}`));
      expect((await client.checkHealth({ model: "still-here" })).healthy[0]?.modelGroup).toBe("still-here");
    } finally {
      session.close();
      await server.close(0);
    }
  });

  it("reports a database it cannot reach as unavailable on either server path, unary and mid-stream, without the driver's words", async () => {
    const server = await serve();
    const url = `http://127.0.0.1:${server.port}`;
    // Binary calls over h2 take h2-handlers.ts; JSON ones take connect-node.
    const clients = [transportClient(RouterService, ourTransport(url)), createClient(RouterService, connectNodeTransport(url, false))];
    try {
      for (const client of clients) {
        const unary = ConnectError.from(await client.checkHealth({ model: "db-down" }).catch((e: unknown) => e));
        expect([unary.code, unary.rawMessage]).toEqual([Code.Unavailable, "the database is unavailable"]);
        const events: string[] = [];
        const streamed = await (async () => {
          for await (const res of client.complete({ requestId: "db-down" })) events.push(res.event.case ?? "");
        })().catch((e: unknown) => ConnectError.from(e));
        expect(events).toEqual(["started"]);
        expect([streamed?.code, streamed?.rawMessage]).toEqual([Code.Unavailable, "the database is unavailable"]);
      }
    } finally {
      await server.close(0);
    }
  });

  it("closes without waiting out an HTTP/1 client's idle keep-alive connection (a metrics scraper's)", async () => {
    const server = await serve();
    const agent = new http.Agent({ keepAlive: true });
    try {
      const status = await new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: server.port, path: "/health/liveliness", agent }, (res) => res.resume().on("end", () => resolve(res.statusCode))).on("error", reject);
      });
      expect(status).toBe(200);
      // The connection stays open on the client's side; the server's keep-alive timeout is 5 s.
      const closed = await Promise.race([server.close(60_000).then(() => "closed"), sleep(2_000).then(() => "still open")]);
      expect(closed).toBe("closed");
    } finally {
      agent.destroy();
    }
  });

  it("serves JSON Connect calls through connect-node", async () => {
    const server = await serve();
    try {
      const client = createClient(RouterService, connectNodeTransport(`http://127.0.0.1:${server.port}`, false));
      expect((await client.checkHealth({ model: "json" })).healthy[0]?.modelGroup).toBe("json");
    } finally {
      await server.close(0);
    }
  });
});

describe("h2Transport", () => {
  it("reports a peer that refuses the connection as unavailable, with the refusal as its cause", async () => {
    const { url, close } = await plainConnectServer();
    await close();
    const err = await transportClient(RouterService, ourTransport(url))
      .checkHealth({ model: "x" })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    const codes: unknown[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) codes.push((e as NodeJS.ErrnoException).code);
    expect(codes).toContain("ECONNREFUSED");
  });

  it("reports a method the peer does not serve as unimplemented, unary and streaming", async () => {
    const server = await serve({}, () => {});
    try {
      const client = transportClient(RouterService, ourTransport(`http://127.0.0.1:${server.port}`));
      const unary = await client.checkHealth({ model: "x" }).catch((e: unknown) => e);
      expect((unary as ConnectError).code).toBe(Code.Unimplemented);
      const stream = await (async () => {
        for await (const _ of client.complete({ requestId: "x" })) return "a message";
        return "no error";
      })().catch((e: unknown) => e);
      expect((stream as ConnectError).code).toBe(Code.Unimplemented);
    } finally {
      await server.close(0);
    }
  });

  it("refuses a request message over the port's limit, on either server path, and keeps serving", async () => {
    const server = await serve({ maxMessageBytes: 4096 });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      for (const client of [transportClient(RouterService, ourTransport(url)), createClient(RouterService, connectNodeTransport(url, false))]) {
        const stream = (async () => {
          for await (const _ of client.complete({ requestId: "big", body: new Uint8Array(64 * 1024) })) return "a message";
          return "no error";
        })();
        expect(await stream.catch((e: unknown) => (e as ConnectError).code)).toBe(Code.ResourceExhausted);
        const unary = await client.checkHealth({ model: "x".repeat(8192) }).catch((e: unknown) => (e as ConnectError).code);
        expect(unary).toBe(Code.ResourceExhausted);
        expect((await client.checkHealth({ model: "small" })).healthy[0]?.modelGroup).toBe("small");
      }
    } finally {
      await server.close(0);
    }
  });

  it("connects again after the peer restarts on the same port", async () => {
    const first = await serve();
    const client = transportClient(RouterService, ourTransport(`http://127.0.0.1:${first.port}`));
    expect((await client.checkHealth({ model: "before" })).healthy).toHaveLength(1);
    await first.close(0);
    const second = await serve({ port: first.port });
    try {
      expect((await client.checkHealth({ model: "after" })).healthy[0]?.modelGroup).toBe("after");
    } finally {
      await second.close(0);
    }
  });
});
