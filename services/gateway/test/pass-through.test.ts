import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's pass-through endpoints (general_settings.pass_through_endpoints)
// in front of a third-party API of the test's own: requests go as they are
// with the endpoint's credentials, answers come back as they are (errors and
// streams too), keys and their budgets hold with cost_per_request under
// concurrent requests, and the ledger books each request.

const TARGET_KEY = "pt-target-secret-0123456789";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The headers as they came, names and values in turn: a header named __proto__ is only here. */
  rawHeaders: string[];
  body: string;
}

let target: Server;
let targetUrl: string;
const seen: Seen[] = [];

beforeAll(async () => {
  process.env["PT_TARGET_KEY"] = TARGET_KEY;
  target = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const body = Buffer.concat(parts).toString();
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (req.url?.startsWith("/busy")) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "7" }).end(JSON.stringify({ message: "slow down" }));
      } else if (req.url?.startsWith("/proto-header")) {
        res.writeHead(200, ["content-type", "application/json", "__proto__", "from-target", "retry-after", "3"]).end("{}");
      } else if (req.url?.startsWith("/missing")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "no such thing" }));
      } else if (req.url?.startsWith("/stream")) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        let n = 0;
        const tick = setInterval(() => {
          res.write(`data: part ${++n}\n\n`);
          if (n === 3) {
            clearInterval(tick);
            res.end();
          }
        }, 20);
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results: [{ index: 0, relevance_score: 0.9 }], echoed: body }));
      }
    });
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => (target ? target.close(() => resolve()) : resolve())));

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
  pass_through_endpoints:
    - path: /cohere/rerank
      target: ${targetUrl}/v1/rerank
      headers: { Authorization: "bearer os.environ/PT_TARGET_KEY" }
      cost_per_request: 0.25
    - path: /rerank
      target: ${targetUrl}/v2/rerank
    - path: /anthropic
      target: ${fakeUrl}
      include_subpath: true
      forward_headers: true
      headers: { x-api-key: os.environ/FAKE_PROVIDER_KEY }
    - path: /tools
      target: ${targetUrl}
      include_subpath: true
      cost_per_request: 0.1
      auth: false
      forward_headers: true
      methods: [GET]
`);
}

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`pass-through endpoints, ${mode.name}`, () => {
    let gateway: ModeGateway;
    fakeBehindGatewayPerTest(mode, config, (setup) => ({ gateway } = setup));

    const key = async (body: Record<string, unknown> = {}) => (await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", body)).json.key;
    const post = (path: string, apiKey: string | undefined, body: unknown) =>
      fetch(`${gateway.baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(apiKey && { authorization: `Bearer ${apiKey}` }) },
        body: JSON.stringify(body),
      });

    it("sends a request as it is with the endpoint's credentials, answers as the target did, and books it at cost_per_request", async () => {
      const apiKey = await key();
      const asked = { query: "which?", documents: ["a", "b"] };
      const res = await post("/cohere/rerank", apiKey, asked);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ results: [{ index: 0, relevance_score: 0.9 }], echoed: JSON.stringify(asked) });
      const got = seen.at(-1)!;
      expect(got).toMatchObject({ method: "POST", url: "/v1/rerank", body: JSON.stringify(asked) });
      expect(got.headers.authorization).toBe(`bearer ${TARGET_KEY}`);
      expect(JSON.stringify(got.headers)).not.toContain(apiKey);
      const row = await gateway.spendLog(res.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "pass_through_endpoint", model_group: "/cohere/rerank", custom_llm_provider: "pass_through", status: "success" });
      expect(row["spend"]).toBeCloseTo(0.25, 12);
      // An endpoint at one of the gateway's own routes takes it over.
      const taken = await post("/rerank", apiKey, asked);
      expect(taken.status).toBe(200);
      expect(seen.at(-1)?.url).toBe("/v2/rerank");
    });

    it("holds a key's budget at cost_per_request under concurrent requests, and its key and routes", async () => {
      const apiKey = await key({ max_budget: 0.5 });
      const before = seen.length;
      const statuses = await Promise.all(Array.from({ length: 6 }, () => post("/cohere/rerank", apiKey, { query: "budget" }).then((r) => r.status)));
      expect(statuses.filter((s) => s === 200)).toHaveLength(2);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 400)).toBe(true);
      expect(seen.length - before).toBe(2);
      expect((await post("/cohere/rerank", undefined, {})).status).toBe(401);
      expect((await post("/cohere/rerank", "sk-not-a-key", {})).status).toBe(401);
      const elsewhere = await key({ allowed_routes: ["/v1/chat/completions"] });
      expect((await post("/cohere/rerank", elsewhere, {})).status).toBe(403);
      expect(seen.length - before).toBe(2);
    });

    it("passes subpaths and queries on, with the client's headers but never its key, without a key when auth is off", async () => {
      const res = await fetch(`${gateway.baseUrl}/tools/v2/status?verbose=1`, { headers: { "x-trace": "abc", authorization: "Bearer sk-client-secret" } });
      expect(res.status).toBe(200);
      expect((await gateway.spendLog(res.headers.get("x-litellm-call-id")!))["spend"]).toBeCloseTo(0.1, 12);
      const got = seen.at(-1)!;
      expect(got).toMatchObject({ method: "GET", url: "/v2/status?verbose=1" });
      expect(got.headers["x-trace"]).toBe("abc");
      expect(got.headers.authorization).toBeUndefined();
      // The answer comes back as the target sent it: no encoding is asked for that the client did not get.
      expect(got.headers["accept-encoding"]).toBeUndefined();
      const wrongMethod = await post("/tools/v2/status", undefined, {});
      expect(wrongMethod.status).toBe(405);
      expect(((await wrongMethod.json()) as { error: { message: string } }).error.message).toContain("GET");
    });

    // provider_headers, the client's headers going to the target
    // (CompleteRequest's) and the target's coming back (Started's), is a
    // proto map, which protobuf-es decodes into a plain object (connect-node's
    // path between the services, with tracing on), where a key "__proto__" is
    // lost. No such key gets into either: Node's request headers at the edge
    // already drop a header named __proto__ (only rawHeaders has it), and
    // only the target's headers of some names come back (a model call's:
    // x-ratelimit-* and anthropic-ratelimit-*). So split services forward
    // what one process forwards.
    it("forwards a header named __proto__ neither way, split or not: none reaches provider_headers", async () => {
      // undici's request, unlike fetch, sends and reads a header named __proto__.
      const res = await request(`${gateway.baseUrl}/tools/proto-header`, { headers: { ["__proto__"]: "from-client", "x-trace": "abc" } });
      await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(Object.keys(res.headers)).not.toContain("__proto__");
      expect(res.headers["retry-after"]).toBe("3");
      const got = seen.at(-1)!;
      expect(got.url).toBe("/proto-header");
      const names = got.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
      expect(names).toContain("x-trace");
      expect(names).not.toContain("__proto__");
    });

    it("serves LiteLLM's /anthropic/* routes to Anthropic's own SDK, streams included", async () => {
      const apiKey = await key();
      const anthropic = new Anthropic({ baseURL: `${gateway.baseUrl}/anthropic`, apiKey, maxRetries: 0 });
      const message = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content: "through" }] });
      expect(message.content[0]).toMatchObject({ type: "text", text: "Echo: through" });
      const stream = anthropic.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content: "streamed through" }] });
      expect((await stream.finalMessage()).content[0]).toMatchObject({ text: "Echo: streamed through" });
    });

    it("passes the target's errors and streams on as they come", async () => {
      const missing = await fetch(`${gateway.baseUrl}/tools/missing`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ message: "no such thing" });
      // Booked as a failure that costs nothing; an answer costs the endpoint's price.
      expect(await gateway.spendLog(missing.headers.get("x-litellm-call-id")!)).toMatchObject({ status: "failure", model_group: "/tools", spend: 0 });
      const busy = await fetch(`${gateway.baseUrl}/tools/busy`);
      expect(busy.status).toBe(429);
      expect(busy.headers.get("retry-after")).toBe("7");
      const stream = await fetch(`${gateway.baseUrl}/tools/stream`);
      expect(stream.headers.get("content-type")).toBe("text/event-stream");
      expect(await stream.text()).toBe("data: part 1\n\ndata: part 2\n\ndata: part 3\n\n");
    });
  });
}
