import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { createLogger, gatewayError, ObjectIds } from "@gateway/common";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { KeysService, type AuthorizeRequest, type CreateOrganizationRequest, type ReleaseRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { RouterService, type CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEdgeServer, type EdgeServer } from "../src/index.js";

// The edge alone, in front of stand-in keys, router and accounting services
// reached through in-memory Connect transports: what it makes of their
// answers and failures on the HTTP side.

const encoder = new TextEncoder();
const released: ReleaseRequest[] = [];
const authorized: AuthorizeRequest[] = [];
const organizationsMade: CreateOrganizationRequest[] = [];
let aborted = 0;
/** The reservation holders the "hang" calls named. */
const holders: string[] = [];

const started = { case: "started" as const, value: { modelGroup: "fast-model", deploymentId: "d1", providerModel: "gpt-4o-mini" } };
const finished = { case: "finished" as const, value: { promptTokens: 3n, completionTokens: 2n, cost: 0.25 } };
const chunk = (text: string) => ({ case: "chunk" as const, value: encoder.encode(JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })) });

// A call that says "linger" stays open after Finished until the test ends it, and then fails.
let endLinger = () => {};

async function* complete(req: CompleteRequest, ctx: HandlerContext) {
  const body = JSON.parse(new TextDecoder().decode(req.body)) as { model: string; stream?: boolean; messages: { content: string }[] };
  const says = body.messages[0]?.content ?? "";
  if (says === "crash" && !body.stream) throw new TypeError("Cannot read properties of null (reading 'secret-detail')");
  // A wildcard group is named by what the client asked for, as the router names it.
  yield { event: says === "wildcard" ? { case: "started" as const, value: { ...started.value, modelGroup: body.model } } : started };
  if (!body.stream) {
    yield { event: { case: "response" as const, value: encoder.encode(JSON.stringify({ object: "chat.completion", says })) } };
    // What a Batch API call that books finished batches reports: sums past 2^32.
    yield { event: says === "batch" ? { ...finished, value: { ...finished.value, promptTokens: 2n ** 32n + 5n, completionTokens: 2n ** 32n } } : finished };
    if (says === "linger") {
      await new Promise<void>((resolve) => (endLinger = resolve));
      throw gatewayError("the call broke after it finished", Code.Unavailable, { type: "api_error", status: 502 });
    }
    return;
  }
  yield { event: chunk("one ") };
  if (says === "crash") throw new TypeError("Cannot read properties of null (reading 'secret-detail')");
  if (says === "break") {
    yield { event: finished };
    throw gatewayError("openai stream broke", Code.Unavailable, { type: "api_error", status: 502 });
  }
  // A router that stopped or died mid-stream: its answer ends before Finished.
  if (says === "cut") throw gatewayError("the stream ended without its end message", Code.Unavailable, { type: "api_error", status: 503 });
  if (says === "hang") {
    holders.push(req.reservationHolder);
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    aborted++;
    return;
  }
  yield { event: chunk("two") };
  yield { event: finished };
}

const transport = createRouterTransport((router) => {
  router.service(KeysService, {
    authorize(req) {
      authorized.push(req);
      if (req.apiKey !== "sk-good") throw gatewayError("invalid API key", Code.Unauthenticated, { type: "authentication_error" });
      return { keyHash: "hash", holder: "replica-1", reserved: true };
    },
    release(req) {
      released.push(req);
      return {};
    },
    createOrganization(req) {
      organizationsMade.push(req);
      const { organizationAlias = "", models, maxBudget, rpmLimit, metadataJson = "" } = req.settings!;
      return {
        organization: { organizationId: req.organizationId || "org-1", organizationAlias, models: models?.models ?? [], maxBudget, rpmLimit, metadataJson, spend: 0, createdAtMs: 1n, updatedAtMs: 1n },
      };
    },
  });
  router.service(RouterService, { complete, listModels: () => ({ models: [{ name: "fast-model", created: 1n }] }) });
  router.service(AccountingService, {});
});

let edge: EdgeServer;
let base: string;
/** What the edge logged, one JSON object a line. */
const logged: { level: number; msg: string; requestId?: string; err?: string; stack?: string }[] = [];

beforeAll(async () => {
  edge = createEdgeServer({
    peers: { keys: createClient(KeysService, transport), router: createClient(RouterService, transport), accounting: createClient(AccountingService, transport) },
    logger: createLogger("edge-test", "debug", { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) }),
    maxBodyBytes: 1024,
    metricsNeedAuth: false,
    objectIds: new ObjectIds("edge-test"),
    ready: () => true,
  });
  await edge.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${(edge.server.address() as AddressInfo).port}`;
});
afterAll(() => edge.close(0));
beforeEach(() => {
  released.length = 0;
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer sk-good", "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("edge", () => {
  it("writes the router's response with LiteLLM's headers and settles the key to the reported cost", async () => {
    const res = await post({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: "chat.completion", says: "hi" });
    expect(res.headers.get("x-litellm-model-id")).toBe("d1");
    expect(res.headers.get("x-litellm-response-cost")).toBe("0.25");
    expect(res.headers.get("x-litellm-call-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(released).toEqual([expect.objectContaining({ keyHash: "hash", holder: "replica-1", cost: 0.25, totalTokens: 5n })]);
  });

  it("settles the key to a sum past 2^32 whole, where the uint32 fields kept its low bits", async () => {
    const res = await post({ model: "fast-model", messages: [{ role: "user", content: "batch" }] });
    expect(res.status).toBe(200);
    expect(released).toEqual([expect.objectContaining({ totalTokens: 2n ** 33n + 5n })]);
  });

  it("asks the keys service to reserve output for each answer a body asks for: n, best_of, candidateCount", async () => {
    const send = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: "POST", headers: { authorization: "Bearer sk-good", "content-type": "application/json" }, body: JSON.stringify(body) }).then((res) => res.arrayBuffer());
    const messages = [{ role: "user", content: "hi" }];
    authorized.length = 0;
    await send("/v1/chat/completions", { model: "fast-model", messages, max_tokens: 5, n: 3 });
    await send("/v1/chat/completions", { model: "fast-model", messages });
    await send("/v1/completions", { model: "fast-model", prompt: "hi", n: 2, best_of: 4 });
    await send("/v1beta/models/fast-model:generateContent", { contents: [{ parts: [{ text: "hi" }] }], generationConfig: { candidateCount: 2, maxOutputTokens: 7 } });
    expect(authorized.map((a) => [a.maxTokens, a.answers])).toEqual([
      [5, 3],
      [0, 0],
      [0, 4],
      [7, 2],
    ]);
  });

  it("answers once the router reports the call finished, with the key released first, and a later failure of the call changes nothing", async () => {
    const res = await post({ model: "fast-model", messages: [{ role: "user", content: "linger" }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ object: "chat.completion", says: "linger" });
    expect(released).toEqual([expect.objectContaining({ cost: 0.25, totalTokens: 5n })]);
    endLinger();
    const next = await post({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
    expect(await next.json()).toEqual({ object: "chat.completion", says: "hi" });
    expect(released).toHaveLength(2);
  });

  it("streams chunks as server-sent events ending in [DONE]", async () => {
    const res = await post({ model: "fast-model", stream: true, messages: [{ role: "user", content: "go" }] });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    expect(text.split("\n\n").filter(Boolean)).toEqual([
      'data: {"choices":[{"index":0,"delta":{"content":"one "}}]}',
      'data: {"choices":[{"index":0,"delta":{"content":"two"}}]}',
      "data: [DONE]",
    ]);
  });

  it("ends a stream that broke with an error event, never [DONE], and still charges what was used", async () => {
    const res = await post({ model: "fast-model", stream: true, messages: [{ role: "user", content: "break" }] });
    const text = await res.text();
    expect(text).toContain('"type":"api_error"');
    expect(text).not.toContain("[DONE]");
    expect(released[0]?.cost).toBe(0.25);
  });

  it("settles a stream the router cut before saying what it used as fully used, after giving the router 3 s to settle it", async () => {
    const res = await post({ model: "fast-model", stream: true, messages: [{ role: "user", content: "cut" }] });
    const text = await res.text();
    expect(text).toContain('"type":"api_error"');
    const requestId = res.headers.get("x-litellm-call-id");
    expect(released.filter((r) => r.requestId === requestId)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 3_300));
    expect(released.filter((r) => r.requestId === requestId)).toEqual([expect.objectContaining({ usageUnknown: true })]);
  });

  it("aborts the router's call when the client goes away mid-stream, naming who holds its reservation, and releases it as fully used when the router does not", async () => {
    const before = aborted;
    const releasedBefore = released.length;
    const res = await post({ model: "fast-model", stream: true, messages: [{ role: "user", content: "hang" }] });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await expect.poll(() => aborted).toBe(before + 1);
    expect(holders).toEqual(["replica-1"]);
    // This router settles nothing itself: the edge does, a few seconds on, on the budget's safe side.
    expect(released).toHaveLength(releasedBefore);
    await expect.poll(() => released.length, { timeout: 6_000 }).toBe(releasedBefore + 1);
    expect(released.at(-1)).toMatchObject({ holder: "replica-1", usageUnknown: true });
  });

  it("maps failures to OpenAI-style errors with the right status, and keeps serving", async () => {
    const cases: [Promise<Response>, number][] = [
      [post({ model: "fast-model", messages: [] }, { authorization: "Bearer sk-bad" }), 401],
      [post("{not json"), 400],
      [post({ messages: [] }), 400],
      [post("<xml/>", { "content-type": "application/xml" }), 415],
      [post({ model: "fast-model", messages: [{ role: "user", content: "x".repeat(2000) }] }), 413],
      [fetch(`${base}/v1/nowhere`), 404],
    ];
    for (const [response, status] of cases) {
      const res = await response;
      expect(res.status).toBe(status);
      const { error } = (await res.json()) as { error: { message: string; type: string; code: unknown } };
      expect(error.message).toBeTruthy();
      expect(error.type).toBeTruthy();
    }
    expect((await post({ model: "fast-model", messages: [{ role: "user", content: "ok" }] })).status).toBe(200);
  });

  it("tells the client only 'internal error' for a failure nobody expected, and logs it at error with its stack, also mid-stream", async () => {
    const res = await post({ model: "fast-model", messages: [{ role: "user", content: "crash" }] });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { message: "internal error", type: "internal_server_error" } });
    expect(text).not.toContain("secret-detail");
    const requestId = res.headers.get("x-litellm-call-id");
    const line = logged.find((l) => l.requestId === requestId && l.level === 50);
    expect(line?.msg).toBe("request failed unexpectedly");
    // Through this Connect transport the edge has the error as its peer told it; a router across the network logs the stack too.
    expect(line?.stack).toMatch(/^ConnectError: [^]*\n\s+at /);

    const streamed = await post({ model: "fast-model", stream: true, messages: [{ role: "user", content: "crash" }] });
    const events = await streamed.text();
    expect(events).toContain("internal error");
    expect(events).not.toContain("secret-detail");
    expect(logged.filter((l) => l.requestId === streamed.headers.get("x-litellm-call-id") && l.level === 50)).toHaveLength(1);

    // A client's own mistake stays at debug.
    const refused = await post({ messages: [] });
    expect(logged.find((l) => l.requestId === refused.headers.get("x-litellm-call-id"))?.level).toBe(20);
  });

  it("routes a request target as the URL parser reads it: with a query, with dot segments, in absolute form", async () => {
    const statusOf = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(base);
        const req = request({ host: url.hostname, port: url.port, path, headers: { authorization: "Bearer sk-good" } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await statusOf("/v1/models?limit=5")).toBe(200);
    expect(await statusOf("/v1/../v1/./models")).toBe(200);
    expect(await statusOf(`${base}/v1/models`)).toBe(200);
    expect(await statusOf("/v1/models/..")).toBe(404);
  });

  it("answers a model name that cannot be a header value as it is, with it percent-encoded in x-litellm-model-group", async () => {
    for (const stream of [false, true]) {
      for (const model of ["openai/日本語", "openai/a\r\nset-cookie: x=1"]) {
        const res = await post({ model, stream, messages: [{ role: "user", content: "wildcard" }] });
        expect(res.status).toBe(200);
        expect(res.headers.get("x-litellm-model-group")).toBe(encodeURIComponent(model));
        expect(res.headers.get("set-cookie")).toBeNull();
        expect(await res.text()).toContain(stream ? "[DONE]" : "wildcard");
      }
    }
    expect((await post({ model: "openai/gpt-4o", messages: [{ role: "user", content: "wildcard" }] })).headers.get("x-litellm-model-group")).toBe("openai/gpt-4o");
  });

  it("makes an organization from LiteLLM's /organization/new body and answers it in LiteLLM's shape; a bad field is a 400 naming it", async () => {
    const make = (body: unknown) =>
      fetch(`${base}/organization/new`, { method: "POST", headers: { authorization: "Bearer sk-good", "content-type": "application/json" }, body: JSON.stringify(body) });
    const res = await make({ organization_alias: "acme", models: ["fast-model"], max_budget: 10, rpm_limit: 5, tpm_limit: null, metadata: { tier: "gold" } });
    expect(res.status).toBe(200);
    expect(organizationsMade.at(-1)).toMatchObject({ organizationId: "", settings: { organizationAlias: "acme", models: { models: ["fast-model"] }, maxBudget: 10, rpmLimit: 5, clear: ["tpm_limit"] } });
    expect(await res.json()).toMatchObject({
      organization_id: "org-1",
      organization_alias: "acme",
      metadata: { tier: "gold" },
      models: ["fast-model"],
      spend: 0,
      litellm_budget_table: { max_budget: 10, budget_duration: null, rpm_limit: 5, tpm_limit: null },
      members: [],
      teams: [],
    });
    for (const [body, param] of [
      [{ models: [] }, "organization_alias"],
      [{ organization_alias: "acme", rpm_limit: 1.5 }, "rpm_limit"],
      [{ organization_alias: "acme", blocked: "yes" }, "blocked"],
    ] as const) {
      const refused = await make(body);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { type: "invalid_request_error", param } });
    }
    expect(organizationsMade).toHaveLength(1);
  });

  it("lists models in OpenAI's shape", async () => {
    const res = await fetch(`${base}/v1/models`, { headers: { authorization: "Bearer sk-good" } });
    expect(await res.json()).toEqual({ object: "list", data: [{ id: "fast-model", object: "model", created: 1, owned_by: "openai" }] });
  });
});
