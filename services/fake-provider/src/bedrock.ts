import { createHash, createHmac } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { invokeEmbedding } from "./bedrock-embeddings.js";
import { encodeEventStreamMessage } from "./event-stream.js";
import {
  arrive,
  completionTokens,
  countTokens,
  isRecord,
  planReply,
  sendJson,
  shown,
  splitWords,
  takeFailure,
  writeEvents,
  type Handler,
  type IncomingCall,
  type Json,
  type Outcome,
} from "./reply.js";
import type { IssuedTokens } from "./tokens.js";

// AWS Bedrock Runtime's Converse API (POST /model/{modelId}/converse and
// /converse-stream), shapes from AWS's public API reference: content blocks
// keyed by kind, stopReason, usage with cache tokens outside inputTokens,
// errors as {"message"} named by x-amzn-errortype, a stream in AWS's binary
// event-stream framing, and requests authenticated by a Bedrock API key
// (bearer) or a SigV4 signature, with a session token when signed by AWS STS's
// temporary credentials (aws-sts.ts, which uses the same SigV4 verifier).
// InvokeModel (/model/{modelId}/invoke) serves text embedding models
// (bedrock-embeddings.ts) with the same checks.

const PATH = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/;
const TOOL_USE_ID = "tooluse_fake_1";
const ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/";

const ERROR_TYPES: Record<number, string> = {
  400: "ValidationException",
  403: "AccessDeniedException",
  404: "ResourceNotFoundException",
  408: "ModelTimeoutException",
  424: "ModelErrorException",
  429: "ThrottlingException",
  500: "InternalServerException",
  503: "ServiceUnavailableException",
};

const REQUEST_KEYS = new Set([
  "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields",
  "additionalModelResponseFieldPaths", "promptVariables", "requestMetadata", "performanceConfig",
]);
const INFERENCE_KEYS = new Set(["maxTokens", "temperature", "topP", "stopSequences"]);
const BLOCK_KINDS = new Set([
  "text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent", "cachePoint",
  "reasoningContent", "citationsContent", "searchResult",
]);
// Model ids, inference profile ids and ARNs (whose "/" arrives encoded in the path).
const MODEL_ID = /^[A-Za-z0-9._:/-]{1,2048}$/;

/** What AWS says when a SigV4 signature does not check out. */
export const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}, type?: string): void {
  const name = type ?? ERROR_TYPES[status] ?? (status >= 500 ? "InternalServerException" : "ValidationException");
  sendJson(res, status, { message }, { ...headers, "x-amzn-errortype": `${name}:${ERROR_NAMESPACE}` });
}

function stopReason(outcome: Outcome): string {
  if (outcome.kind === "tool_call") return "tool_use";
  if (outcome.stopSequence !== undefined) return "stop_sequence";
  return outcome.truncated ? "max_tokens" : "end_turn";
}

/** A list of content blocks as text: its text blocks joined with " ". */
function blocksText(blocks: unknown): string {
  if (!Array.isArray(blocks)) return "";
  return blocks
    .filter((block): block is Json => isRecord(block) && typeof block.text === "string")
    .map((block) => block.text as string)
    .join(" ");
}

const hasText = (message: Json): boolean => blocksText(message.content) !== "";

const usesTools = (message: Json): boolean =>
  Array.isArray(message.content) && message.content.some((block) => isRecord(block) && ("toolUse" in block || "toolResult" in block));

/** Why Bedrock would refuse the body with a ValidationException, or undefined when it takes it. */
function refusal(body: Json): string | undefined {
  const unknown = Object.keys(body).find((key) => !REQUEST_KEYS.has(key));
  if (unknown !== undefined) return `Malformed input request: extraneous key [${unknown}] is not permitted, please reformat your input and try again.`;
  const { messages, inferenceConfig, system, toolConfig } = body;
  if (!Array.isArray(messages)) return "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null";
  if (messages.length === 0) return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  for (const [i, message] of messages.entries()) {
    if (!isRecord(message)) return `1 validation error detected: Value at 'messages.${i + 1}.member' failed to satisfy constraint: Member must be a structure`;
    if (message.role !== "user" && message.role !== "assistant") {
      return `1 validation error detected: Value '${shown(message.role)}' at 'messages.${i + 1}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]`;
    }
    if (!Array.isArray(message.content) || message.content.length === 0) {
      return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    }
    for (const [j, block] of message.content.entries()) {
      const kinds = isRecord(block) ? Object.keys(block) : [];
      if (kinds.length !== 1 || !BLOCK_KINDS.has(kinds[0] as string)) {
        return `1 validation error detected: Value at 'messages.${i + 1}.member.content.${j + 1}.member' failed to satisfy constraint: Member must have exactly one of the following fields set: ${[...BLOCK_KINDS].join(", ")}`;
      }
      if ("text" in (block as Json) && typeof (block as Json).text !== "string") {
        return `1 validation error detected: Value at 'messages.${i + 1}.member.content.${j + 1}.member.text' failed to satisfy constraint: Member must be a string`;
      }
    }
  }
  if (system !== undefined && (!Array.isArray(system) || !system.every(isRecord))) {
    return "1 validation error detected: Value at 'system' failed to satisfy constraint: Member must be a list of SystemContentBlock";
  }
  if (inferenceConfig !== undefined) {
    if (!isRecord(inferenceConfig)) return "1 validation error detected: Value at 'inferenceConfig' failed to satisfy constraint: Member must be a structure";
    const extra = Object.keys(inferenceConfig).find((key) => !INFERENCE_KEYS.has(key));
    if (extra !== undefined) return `Malformed input request: extraneous key [inferenceConfig.${extra}] is not permitted, please reformat your input and try again.`;
    const { maxTokens, stopSequences } = inferenceConfig;
    if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
      return `1 validation error detected: Value '${shown(maxTokens)}' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1`;
    }
    if (stopSequences !== undefined && (!Array.isArray(stopSequences) || !stopSequences.every((s) => typeof s === "string"))) {
      return "1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must be a list of strings";
    }
  }
  if (toolConfig !== undefined) {
    const tools = isRecord(toolConfig) ? toolConfig.tools : undefined;
    if (!Array.isArray(tools) || tools.length === 0) {
      return "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1";
    }
  }
  const roles = (messages as Json[]).map((message) => message.role);
  if (roles[0] !== "user") return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  if (roles.some((role, i) => i > 0 && role === roles[i - 1])) {
    return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.";
  }
  if (toolConfig === undefined && (messages as Json[]).some(usesTools)) {
    return "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
  }
  return undefined;
}

/** The name of the first tool among Bedrock's `toolConfig.tools[].toolSpec`. */
function firstToolSpecName(toolConfig: unknown): string | undefined {
  const first: unknown = isRecord(toolConfig) && Array.isArray(toolConfig.tools) ? toolConfig.tools[0] : undefined;
  if (!isRecord(first) || !isRecord(first.toolSpec)) return undefined;
  return typeof first.toolSpec.name === "string" ? first.toolSpec.name : undefined;
}

/** The tool `toolConfig.toolChoice.tool` makes the model call, with its input schema; undefined when none is forced. */
function forcedToolSpec(toolConfig: unknown): { name: string; schema: unknown } | undefined {
  if (!isRecord(toolConfig) || !isRecord(toolConfig.toolChoice) || !isRecord(toolConfig.toolChoice.tool)) return undefined;
  const name = toolConfig.toolChoice.tool.name;
  const specs = Array.isArray(toolConfig.tools) ? toolConfig.tools.filter(isRecord).map((tool) => tool.toolSpec).filter(isRecord) : [];
  const spec = specs.find((candidate) => candidate.name === name);
  return spec === undefined ? undefined : { name: String(name), schema: isRecord(spec.inputSchema) ? spec.inputSchema.json : undefined };
}

/** Counted as the Anthropic fake counts its prompt; cache reads and writes are left out of inputTokens but in totalTokens. */
function usageOf(body: Json, messages: Json[], outcome: Outcome, behavior: Behavior): Json {
  const prompt = messages.reduce((sum, m) => sum + countTokens(blocksText(m.content)) + 3, countTokens(blocksText(body.system)));
  const read = Math.min(behavior.cachedPromptTokens ?? 0, prompt);
  const written = Math.min(behavior.cacheWriteTokens ?? 0, prompt - read);
  const outputTokens = completionTokens(outcome);
  return {
    inputTokens: prompt - read - written,
    outputTokens,
    totalTokens: prompt + outputTokens,
    ...(behavior.cachedPromptTokens !== undefined && { cacheReadInputTokens: read }),
    ...(behavior.cacheWriteTokens !== undefined && { cacheWriteInputTokens: written }),
  };
}

function contentOf(outcome: Outcome): Json[] {
  if (outcome.kind === "tool_call") return [{ toolUse: { toolUseId: TOOL_USE_ID, name: outcome.name, input: outcome.input } }];
  return [{ text: outcome.text }];
}

const JSON_TYPE = { ":content-type": "application/json" };

function frame(eventType: string, payload: Json): Buffer {
  return encodeEventStreamMessage({ ":event-type": eventType, ...JSON_TYPE, ":message-type": "event" }, Buffer.from(JSON.stringify(payload)));
}

function exceptionFrame(type: string): Buffer {
  const message = type === "throttlingException" ? "Too many requests, please wait before trying again." : `Injected ${type} from the fake provider.`;
  return encodeEventStreamMessage({ ":exception-type": type, ...JSON_TYPE, ":message-type": "exception" }, Buffer.from(JSON.stringify({ message })));
}

async function stream(res: ServerResponse, signal: AbortSignal, behavior: Behavior, outcome: Outcome, usage: Json, metrics: Json, stop: Json): Promise<void> {
  const start =
    outcome.kind === "tool_call" ? [frame("contentBlockStart", { contentBlockIndex: 0, start: { toolUse: { toolUseId: TOOL_USE_ID, name: outcome.name } } })] : [];
  const args = outcome.kind === "tool_call" ? JSON.stringify(outcome.input) : "";
  const half = Math.ceil(args.length / 2);
  const deltas =
    outcome.kind === "tool_call"
      ? [args.slice(0, half), args.slice(half)].map((input) => ({ toolUse: { input } }))
      : splitWords(outcome.text).map((text) => ({ text }));
  const frames = [
    frame("messageStart", { role: "assistant" }),
    ...start,
    ...deltas.map((delta) => frame("contentBlockDelta", { contentBlockIndex: 0, delta })),
    frame("contentBlockStop", { contentBlockIndex: 0 }),
    frame("messageStop", stop),
    ...(behavior.omitStreamUsage ? [] : [frame("metadata", { usage, metrics })]),
  ];
  // Frames before the first content delta.
  const lead = 1 + start.length;
  const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : lead + Math.min(behavior.breakStreamAfterChunks, deltas.length);
  if (behavior.streamErrorAfterChunks !== undefined) {
    const at = lead + Math.min(behavior.streamErrorAfterChunks, deltas.length);
    frames.splice(at, frames.length, exceptionFrame(behavior.streamErrorType ?? "throttlingException"));
  }
  await writeEvents(res, signal, behavior, frames, breakAt, "application/vnd.amazon.eventstream");
}

const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it: everything but unreserved characters as %XX. */
const uriEncode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const SIGV4 = /^AWS4-HMAC-SHA256 Credential=[^/,\s]+\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/**
 * Whether the request carries a SigV4 signature for `service` (its
 * credential scope's, such as "bedrock" or "sts") made with `secret` as the
 * secret access key (any access key id), rebuilt from what was received: the
 * path encoded once more (non-S3 services sign it double-encoded), the sorted
 * query, the signed headers, and the hash of the body's bytes.
 */
export function signedWith(call: IncomingCall, authorization: string, secret: string, service: string): boolean {
  const match = SIGV4.exec(authorization);
  const date = call.headers["x-amz-date"];
  if (!match || date === undefined) return false;
  const [, day, region, scopeService, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string];
  if (scopeService !== service) return false;
  const names = signedHeaders.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date") || !date.startsWith(day)) return false;
  if (names.some((name) => call.headers[name] === undefined)) return false;
  const bodyHash = sha256(call.rawBody);
  const claimed = call.headers["x-amz-content-sha256"];
  if (claimed !== undefined && claimed !== bodyHash) return false;
  const query = Object.entries(call.query)
    .map(([key, value]) => `${uriEncode(key)}=${uriEncode(value)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    call.method,
    call.path.split("/").map(uriEncode).join("/"),
    query,
    names.map((name) => `${name}:${(call.headers[name] as string).trim().replace(/\s+/g, " ")}\n`).join(""),
    signedHeaders,
    bodyHash,
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), "aws4_request");
  return createHmac("sha256", key).update(stringToSign).digest("hex") === signature;
}

/**
 * Why the request is not let in when a key is required: a Bedrock API key as
 * bearer token, or a SigV4 signature; and, when it carries a session token,
 * one of `sessions` still live.
 */
function authRefusal(call: IncomingCall, secret: string, sessions: IssuedTokens): { type: string; message: string } | undefined {
  const sessionToken = call.headers["x-amz-security-token"];
  if (sessionToken !== undefined && !sessions.isLive(sessionToken)) {
    return sessions.wasIssued(sessionToken)
      ? { type: "ExpiredTokenException", message: "The security token included in the request is expired" }
      : { type: "UnrecognizedClientException", message: "The security token included in the request is invalid." };
  }
  const authorization = call.headers.authorization ?? "";
  if (authorization.startsWith("Bearer ")) {
    if (authorization.slice("Bearer ".length) === secret) return undefined;
    return { type: "UnrecognizedClientException", message: "Authentication failed: Please make sure your API Key is valid." };
  }
  if (authorization.startsWith("AWS4-HMAC-SHA256 ")) {
    return signedWith(call, authorization, secret, "bedrock") ? undefined : { type: "InvalidSignatureException", message: SIGNATURE_MISMATCH };
  }
  return { type: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
}

/**
 * Builds the handler for Bedrock's /model/{modelId}/converse, /converse-stream
 * and /invoke, taking the session tokens in `sessions` (from AWS STS);
 * `getBehavior` is read per request.
 */
export function createBedrockHandler(getBehavior: () => Behavior, sessions: IssuedTokens): Handler {
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    if (behavior.requireApiKey !== undefined) {
      const denied = authRefusal(call, behavior.requireApiKey, sessions);
      if (denied) return sendError(res, 403, denied.message, {}, denied.type);
    }
    const route = PATH.exec(call.path);
    if (call.method !== "POST" || !route) return sendError(res, 404, `Not found: ${call.method} ${call.path}`, {}, "UnknownOperationException");
    const failure = takeFailure(behavior);
    if (failure) return sendError(res, failure.status, `Injected failure (HTTP ${failure.status}) from the fake provider.`, failure.headers);
    let modelId: string;
    try {
      modelId = decodeURIComponent(route[1] as string);
    } catch {
      modelId = "";
    }
    if (!MODEL_ID.test(modelId)) return sendError(res, 400, "The provided model identifier is invalid.");
    const body = call.body;
    if (call.invalidJson || !isRecord(body)) return sendError(res, 400, "Malformed input request, please reformat your input and try again.");
    if (route[2] === "invoke") {
      const invoked = invokeEmbedding(modelId, body);
      if ("refusal" in invoked) return sendError(res, 400, invoked.refusal);
      return sendJson(res, 200, invoked.body, { "x-amzn-bedrock-input-token-count": String(invoked.inputTokens) });
    }
    const refused = refusal(body);
    if (refused) return sendError(res, 400, refused);

    const messages = body.messages as Json[];
    const config = isRecord(body.inferenceConfig) ? body.inferenceConfig : {};
    const last = messages.at(-1) as Json;
    const outcome = planReply(
      {
        toolName: firstToolSpecName(body.toolConfig),
        forcedTool: forcedToolSpec(body.toolConfig),
        endsWithUser: last.role === "user" && hasText(last),
        lastUserText: blocksText(messages.findLast((m) => m.role === "user" && hasText(m))?.content),
        maxTokens: typeof config.maxTokens === "number" ? config.maxTokens : undefined,
        stopSequences: Array.isArray(config.stopSequences) ? (config.stopSequences as string[]) : [],
      },
      behavior,
    );
    const usage = usageOf(body, messages, outcome, behavior);
    const metrics = { latencyMs: behavior.latencyMs };
    // Claude says which stop sequence matched when asked for /stop_sequence.
    const asked = Array.isArray(body.additionalModelResponseFieldPaths) && body.additionalModelResponseFieldPaths.includes("/stop_sequence");
    const stop = { stopReason: stopReason(outcome), ...(asked && { additionalModelResponseFields: { stop_sequence: outcome.kind === "tool_call" ? null : (outcome.stopSequence ?? null) } }) };
    if (route[2] === "converse-stream") return stream(res, signal, behavior, outcome, usage, metrics, stop);
    sendJson(res, 200, { output: { message: { role: "assistant", content: contentOf(outcome) } }, ...stop, usage, metrics }, behavior.rateLimitHeaders);
  };
}
