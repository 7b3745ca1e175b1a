import * as http from "node:http";
import * as http2 from "node:http2";
import { Code, ConnectError, createClient, type Client, type ConnectRouter, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { CheckHealthResponseSchema, RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeError, INTERNAL_CREDENTIAL_HEADER, InternalCredential, serveConnect, type ConnectServer } from "../src/index.js";
import { h2Transport } from "../src/h2-transport.js";
import { transportClient } from "../src/transport-client.js";

// A service's port takes a call that carries the credential derived from the
// master key, or the master key itself as its bearer token, and refuses any
// other before its handler runs: on the lean path (h2-handlers.ts, binary
// Connect calls) and on connect-node's (JSON, gRPC). Health and metrics stay open.

const MASTER_KEY = "sk-credential-test-master-0123";
const credential = new InternalCredential(MASTER_KEY);
const otherCredential = new InternalCredential("sk-another-gateway-master-4567");

describe("InternalCredential", () => {
  it("is the same for the same master key, differs for another, and is not the master key", () => {
    expect(new InternalCredential(MASTER_KEY).headerValue()).toBe(credential.headerValue());
    expect(otherCredential.headerValue()).not.toBe(credential.headerValue());
    expect(credential.headerValue()).toMatch(/^[0-9a-f]{64}$/);
    expect(credential.headerValue()).not.toContain(MASTER_KEY);
  });

  it("admits the credential or the master key as bearer token, and nothing else", () => {
    const value = credential.headerValue();
    const refusal = (internal: string | string[] | undefined, authorization: string | undefined) => {
      try {
        credential.admit(internal, authorization);
        return undefined;
      } catch (err) {
        return ConnectError.from(err).code;
      }
    };
    expect(refusal(value, undefined)).toBeUndefined();
    expect(refusal(undefined, `Bearer ${MASTER_KEY}`)).toBeUndefined();
    expect(refusal(undefined, `bearer ${MASTER_KEY}`)).toBeUndefined();
    expect(refusal(otherCredential.headerValue(), `Bearer ${MASTER_KEY}`)).toBeUndefined();
    for (const [internal, authorization] of [
      [undefined, undefined],
      [otherCredential.headerValue(), undefined],
      [value.slice(1), undefined],
      [`${value}0`, undefined],
      [value.toUpperCase(), undefined],
      [[value, value], undefined],
      [MASTER_KEY, undefined],
      [undefined, "Bearer sk-some-virtual-key"],
      [undefined, `Bearer ${value}`],
      [undefined, "Bearer "],
    ] as const) {
      expect(refusal(internal as string | string[] | undefined, authorization)).toBe(Code.Unauthenticated);
    }
  });

  it("is the gateway's failure to the edge's client, not the client's key: a 500", () => {
    let refused: unknown;
    try {
      credential.admit(otherCredential.headerValue(), "Bearer sk-the-clients-own-key");
    } catch (err) {
      refused = err;
    }
    expect(describeError(refused)).toMatchObject({ status: 500, type: "internal_server_error", code: "internal_credential" });
  });
});

describe("a service port's credential check", () => {
  const handled: string[] = [];
  const routes = (router: ConnectRouter) =>
    router.service(RouterService, {
      async checkHealth(req) {
        handled.push(req.model);
        return create(CheckHealthResponseSchema, { healthy: [{ modelGroup: req.model }] });
      },
      async *complete(req) {
        handled.push(req.requestId);
        yield { event: { case: "started", value: { modelGroup: req.requestId } } };
      },
    });
  let server: ConnectServer;
  let url: string;

  beforeAll(async () => {
    server = await serveConnect(routes, { port: 0, host: "127.0.0.1", credential });
    url = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close(0));

  const withHeaders =
    (headers: Record<string, string>): Interceptor =>
    (next) =>
    (req) => {
      for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
      return next(req);
    };
  // Binary Connect calls take the lean server path; JSON and gRPC ones connect-node's.
  const connectNode = (kind: "binary" | "json" | "grpc", interceptors: Interceptor[]): Transport =>
    kind === "grpc"
      ? createGrpcTransport({ baseUrl: url, interceptors })
      : createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: kind === "binary", interceptors });

  type Caller = { name: string; client: () => Client<typeof RouterService> };
  const refused: Caller[] = [
    { name: "our transport with another gateway's credential (lean path)", client: () => transportClient(RouterService, h2Transport(url, otherCredential)) },
    ...(["binary", "json", "grpc"] as const).flatMap((kind) => [
      { name: `connect-node ${kind} without a credential`, client: () => createClient(RouterService, connectNode(kind, [])) },
      { name: `connect-node ${kind} with a wrong credential`, client: () => createClient(RouterService, connectNode(kind, [otherCredential.sender])) },
      { name: `connect-node ${kind} with a virtual key`, client: () => createClient(RouterService, connectNode(kind, [withHeaders({ authorization: "Bearer sk-virtual-0123456789" })])) },
    ]),
  ];
  const admitted: Caller[] = [
    { name: "our transport with the credential (lean path)", client: () => transportClient(RouterService, h2Transport(url, credential)) },
    ...(["binary", "json", "grpc"] as const).flatMap((kind) => [
      { name: `connect-node ${kind} with the credential`, client: () => createClient(RouterService, connectNode(kind, [credential.sender])) },
      { name: `connect-node ${kind} with the master key`, client: () => createClient(RouterService, connectNode(kind, [withHeaders({ authorization: `Bearer ${MASTER_KEY}` })])) },
    ]),
  ];

  it.each(refused)("refuses $name, unary and streaming, before the handler runs", async ({ client: clientOf }) => {
    const client = clientOf();
    handled.length = 0;
    const unary = ConnectError.from(await client.checkHealth({ model: "refused" }).catch((e: unknown) => e));
    expect(unary.code).toBe(Code.Unauthenticated);
    expect(unary.rawMessage).toContain(INTERNAL_CREDENTIAL_HEADER);
    const streamed = await (async () => {
      for await (const _ of client.complete({ requestId: "refused" })) return "a message";
      return "no error";
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(streamed).toBe(Code.Unauthenticated);
    expect(handled).toEqual([]);
  });

  it.each(admitted)("serves $name", async ({ client: clientOf }) => {
    const client = clientOf();
    expect((await client.checkHealth({ model: "admitted" })).healthy[0]?.modelGroup).toBe("admitted");
    const events: string[] = [];
    for await (const res of client.complete({ requestId: "admitted" })) events.push(res.event.case ?? "");
    expect(events).toEqual(["started"]);
  });

  it("answers a refused unary call with HTTP 401 and Connect's unauthenticated, on the lean path", async () => {
    const session = http2.connect(url);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/gateway.router.v1.RouterService/CheckHealth", "content-type": "application/proto" });
        let status = 0;
        let body = "";
        req.on("response", (h) => (status = Number(h[":status"])));
        req.setEncoding("utf8");
        req.on("data", (chunk: string) => (body += chunk));
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(401);
      expect(JSON.parse(body)).toMatchObject({ code: "unauthenticated" });
    } finally {
      session.close();
    }
  });

  it("leaves health probes and metrics open", async () => {
    for (const path of ["/health/liveliness", "/health/readiness", "/metrics"]) {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(`${url}${path}`, { agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
      expect([path, status]).toEqual([path, 200]);
    }
  });
});
