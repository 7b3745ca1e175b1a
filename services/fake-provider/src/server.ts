import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { createAnthropicHandler } from "./anthropic.js";
import { createAwsStsHandler } from "./aws-sts.js";
import { createBedrockHandler } from "./bedrock.js";
import { defaultBehavior, type Behavior } from "./behavior.js";
import { createGeminiHandler } from "./gemini.js";
import { createGoogleTokenHandler, createMetadataTokenHandler } from "./google-token.js";
import { createMistralHandler } from "./mistral.js";
import { createOpenAIHandler } from "./openai.js";
import type { Handler, IncomingCall, RecordedRequest } from "./reply.js";
import { createIssuedTokens, type IssuedTokens } from "./tokens.js";
import { createVertexHandler } from "./vertex.js";

export interface FakeProviderOptions {
  port?: number;
  host?: string;
  behavior?: Partial<Behavior>;
  /**
   * Keep every request in `requests` (the default, for tests). The command
   * line server, which benches and demos leave running, keeps none.
   */
  record?: boolean;
}

export interface FakeProvider {
  /**
   * Base URL without a trailing slash. The OpenAI base is `${url}/v1`; the
   * same server answers Azure OpenAI (`${url}` as api_base), Anthropic
   * (`${url}`), Gemini (`${url}`), Mistral (`${url}/mistral` as api_base),
   * AWS Bedrock's Converse API and InvokeModel for embedding models
   * (`${url}` as the runtime endpoint) and Google Vertex AI's Gemini, text
   * embedding models and Claude (`${url}` as api_base, with Google's OAuth
   * token endpoint at `${url}/token`, and the metadata server's token at
   * its path, for GCE_METADATA_HOST set to the url's host) at their own
   * paths, and AWS STS at `${url}/sts`, whose temporary credentials Bedrock
   * takes.
   */
  url: string;
  port: number;
  /** Read per request: assign fields (or the whole object) to change what comes next. */
  behavior: Behavior;
  /** Every request received, in arrival order; empty when started with `record: false`. */
  requests: RecordedRequest[];
  /** Requests currently being answered. */
  inFlight: number;
  /** TCP connections accepted so far (a keep-alive client reuses them). */
  connections: number;
  /**
   * Access tokens the Google token endpoint and metadata server have issued
   * so far: a gateway should reuse one across requests until it nears expiry.
   */
  readonly tokensIssued: number;
  /**
   * Temporary credentials AWS STS (/sts) has issued so far: a gateway should
   * reuse them across requests until they near expiry.
   */
  readonly credentialsIssued: number;
  /** Stops listening and destroys open sockets, so keep-alive clients cannot hold it open. */
  close(): Promise<void>;
}

// Providers' JSON parsers refuse nesting past a limit (serde_json's 128
// levels, protobuf's 100) as unparseable. The fakes recurse over what they
// are sent (a forced tool's schema, an input echoed in a 422) and would
// overflow the stack a few thousand levels down; the limit leaves room above
// the 1000 levels a gateway forwards, and what its translations add.
const MAX_DEPTH = 2000;

/** Whether a parsed body nests arrays and objects more than `limit` deep; not recursive, so any depth is measured. */
function nestedPast(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [inner, depth] = item;
    if (typeof inner !== "object" || inner === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(inner)) stack.push([child, depth + 1]);
  }
  return false;
}

async function readCall(req: IncomingMessage): Promise<IncomingCall> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks);
  const raw = rawBody.toString("utf8");
  let body: unknown;
  let invalidJson = false;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      invalidJson = true;
    }
    if (nestedPast(body, MAX_DEPTH)) {
      body = undefined;
      invalidJson = true;
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const url = new URL(req.url ?? "/", "http://fake");
  const query = Object.fromEntries(url.searchParams);
  return { method: req.method ?? "GET", path: url.pathname, query, headers, body, invalidJson, rawBody };
}

/** Each wire format by its paths; everything else is OpenAI's (and Azure's). */
function router(getBehavior: () => Behavior, tokens: IssuedTokens, sessions: IssuedTokens): (call: IncomingCall) => Handler {
  const openai = createOpenAIHandler(getBehavior);
  const anthropic = createAnthropicHandler(getBehavior);
  const gemini = createGeminiHandler(getBehavior);
  const mistral = createMistralHandler(getBehavior);
  const bedrock = createBedrockHandler(getBehavior, sessions);
  const vertex = createVertexHandler(getBehavior, tokens);
  const token = createGoogleTokenHandler(getBehavior, tokens);
  const metadata = createMetadataTokenHandler(getBehavior, tokens);
  const sts = createAwsStsHandler(getBehavior, sessions);
  return (call) => {
    if (call.path === "/token") return token;
    if (call.path.startsWith("/computeMetadata/")) return metadata;
    if (call.path === "/sts") return sts;
    if (call.path.startsWith("/v1/projects/") || call.path.startsWith("/v1beta1/projects/")) return vertex;
    // Both list models at /v1/models: Anthropic's clients send anthropic-version.
    if (call.path === "/v1/messages" || (call.path === "/v1/models" && call.headers["anthropic-version"] !== undefined)) return anthropic;
    if (call.path.startsWith("/model/")) return bedrock;
    if (call.path.startsWith("/v1beta/")) return gemini;
    if (call.path.startsWith("/mistral/")) return mistral;
    return openai;
  };
}

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const host = options.host ?? "127.0.0.1";
  const tokens = createIssuedTokens("ya29.fake-");
  const sessions = createIssuedTokens("fake-session-token-");
  const handlerFor = router(() => provider.behavior, tokens, sessions);
  const record = options.record ?? true;

  const server = createServer((req, res) => {
    provider.inFlight += 1;
    res.once("close", () => {
      provider.inFlight -= 1;
    });
    readCall(req)
      .then((call) => {
        if (record) {
          const { invalidJson: _, rawBody: _rawBody, ...recorded } = call;
          provider.requests.push(recorded);
        }
        return handlerFor(call)(call, res);
      })
      // A client that vanishes mid-body leaves nobody to answer.
      .catch(() => res.destroy());
  });

  server.on("connection", () => {
    provider.connections += 1;
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const provider: FakeProvider = {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    behavior: defaultBehavior(options.behavior),
    requests: [],
    inFlight: 0,
    connections: 0,
    get tokensIssued() {
      return tokens.issued;
    },
    get credentialsIssued() {
      return sessions.issued;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return provider;
}
