import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { Behavior } from "./behavior.js";

// What every fake format shares: the deterministic reply script (echo, fixed
// text, a tool call about the weather, truncation), token counting, and
// writing responses.

export type Json = Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** The query string's parameters. */
  query: Record<string, string>;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
}

export interface IncomingCall extends RecordedRequest {
  /** A body was sent but did not parse, which `body: undefined` cannot tell. */
  invalidJson: boolean;
  /** The body's bytes as received, for checks over them (AWS's request signatures). */
  rawBody: Buffer;
}

export type Handler = (call: IncomingCall, res: ServerResponse) => Promise<void>;

export type Outcome =
  | { kind: "text"; text: string; truncated: boolean; stopSequence?: string }
  | { kind: "tool_call"; name: string; input: Json };

/** The arguments of every tool call the fakes make. */
export const TOOL_INPUT = { location: "Paris" };
export const TOOL_ARGUMENTS = JSON.stringify(TOOL_INPUT);

/**
 * Splits text into stream pieces: each word with the whitespace around it, so
 * the pieces concatenate back to the exact text and there is one per token.
 */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

/** Whitespace-separated words; at least 1 for any non-empty text. */
export function countTokens(text: string): number {
  return splitWords(text).length;
}

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A request's value as an error message quotes it: a string as it is,
 * anything else as JSON. String() throws on an object whose toString is not
 * a function, which a request's JSON can make ({"toString": 1}).
 */
export function shown(value: unknown): string {
  return typeof value === "string" ? value : String(JSON.stringify(value));
}

/** Message content as text: a string, or its text parts joined with " ". */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is Json => isRecord(part) && part.type === "text")
    .map((part) => (typeof part.text === "string" ? part.text : ""))
    .join(" ");
}

/** The name of the first function among OpenAI-shaped tools (`{type: "function", function: {name}}`). */
export function firstToolName(tools: unknown): string | undefined {
  const first: unknown = Array.isArray(tools) ? tools[0] : undefined;
  if (!isRecord(first) || !isRecord(first.function)) return undefined;
  return typeof first.function.name === "string" ? first.function.name : undefined;
}

/** What a request asks, in any format. */
export interface Prompt {
  /** The first tool offered, if any. */
  toolName: string | undefined;
  /** Whether the conversation ends with the user speaking (not a tool result). */
  endsWithUser: boolean;
  lastUserText: string;
  maxTokens: number | undefined;
  stopSequences?: string[];
  /** The tool the request makes the model call (a forced tool choice), with its input schema. */
  forcedTool?: { name: string; schema: unknown } | undefined;
}

/**
 * A value that conforms to a JSON schema, made from the schema alone: its
 * const or first enum value, every property of an object (required or not),
 * one item of an array, the least number allowed, and a string of the
 * allowed length. The first choice of anyOf/oneOf, and allOf's merged. What
 * the fake cannot read (a $ref) gives null.
 */
export function exampleOf(schema: unknown): unknown {
  if (!isRecord(schema)) return {};
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ["anyOf", "oneOf"]) {
    const choices = schema[key];
    if (Array.isArray(choices) && choices.length > 0) return exampleOf(choices[0]);
  }
  if (Array.isArray(schema.allOf)) return exampleOf(Object.assign({}, ...schema.allOf.filter(isRecord)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string": {
      const least = typeof schema.minLength === "number" ? schema.minLength : 0;
      return "example".padEnd(least, "x").slice(0, typeof schema.maxLength === "number" ? schema.maxLength : undefined);
    }
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : typeof schema.exclusiveMinimum === "number" ? schema.exclusiveMinimum + 1 : 1;
    case "boolean":
      return true;
    case "null":
      return null;
    case "array": {
      const items = Array.isArray(schema.prefixItems) ? schema.prefixItems.map(exampleOf) : [exampleOf(schema.items)];
      return typeof schema.maxItems === "number" && schema.maxItems < items.length ? items.slice(0, schema.maxItems) : items;
    }
    case "object":
    case undefined: {
      if (type === undefined && !isRecord(schema.properties)) return schema.$ref === undefined ? {} : null;
      const properties = isRecord(schema.properties) ? schema.properties : {};
      return Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, exampleOf(property)]));
    }
    default:
      return null;
  }
}

/**
 * The reply: a call to the first tool when the user asks about the weather;
 * a call to the tool a request forces, with an input made from its schema;
 * else the echo (or fixed text), cut to size.
 */
export function planReply(prompt: Prompt, behavior: Behavior): Outcome {
  const forced = prompt.forcedTool;
  if (prompt.toolName !== undefined && (forced === undefined || forced.name === prompt.toolName) && prompt.endsWithUser && /\bweather\b/i.test(prompt.lastUserText)) {
    return { kind: "tool_call", name: prompt.toolName, input: TOOL_INPUT };
  }
  if (forced !== undefined) {
    const input = exampleOf(forced.schema);
    return { kind: "tool_call", name: forced.name, input: isRecord(input) ? input : {} };
  }
  let reply = behavior.reply ?? `Echo: ${prompt.lastUserText}`;
  for (const stop of prompt.stopSequences ?? []) {
    const at = reply.indexOf(stop);
    if (stop !== "" && at >= 0) return { kind: "text", text: reply.slice(0, at), truncated: false, stopSequence: stop };
  }
  const words = splitWords(reply);
  if (prompt.maxTokens !== undefined && prompt.maxTokens < words.length) {
    reply = words.slice(0, prompt.maxTokens).join("").trimEnd();
    return { kind: "text", text: reply, truncated: true };
  }
  return { kind: "text", text: reply, truncated: false };
}

/** Tokens of the reply, as every fake reports them. */
export function completionTokens(outcome: Outcome): number {
  return countTokens(outcome.kind === "text" ? outcome.text : JSON.stringify(outcome.input));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
  });
  res.end(json);
}

/** Waits, cut short when the client goes away so abandoned requests free up at once. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Resolves once the data is handed to the socket, so a following destroy cannot drop it. */
export function write(res: ServerResponse, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => res.write(data, () => resolve()));
}

/**
 * Writes a stream's events (server-sent event lines, or binary frames under
 * another content type), pausing between them. When the behavior says so,
 * destroys the socket before event `breakAt` instead, as a dropped connection would.
 */
export async function writeEvents(
  res: ServerResponse,
  signal: AbortSignal,
  behavior: Behavior,
  lines: (string | Uint8Array)[],
  breakAt: number | undefined,
  contentType = "text/event-stream",
): Promise<void> {
  res.writeHead(200, { ...behavior.rateLimitHeaders, "content-type": contentType, "cache-control": "no-cache" });
  for (const [index, line] of lines.entries()) {
    if (index === breakAt) {
      res.destroy();
      return;
    }
    if (index > 0) await pause(behavior.chunkDelayMs, signal);
    if (signal.aborted) return;
    await write(res, line);
  }
  res.end();
}

/** The request's abort signal (the client went away), after the configured latency; undefined when it left during it. */
export async function arrive(res: ServerResponse, behavior: () => Behavior): Promise<AbortSignal | undefined> {
  const abort = new AbortController();
  res.once("close", () => abort.abort());
  await pause(behavior().latencyMs, abort.signal);
  const held = behavior().held;
  if (held && !abort.signal.aborted) await Promise.race([held, once(abort.signal, "abort")]);
  return abort.signal.aborted ? undefined : abort.signal;
}

/** Whether the behavior injects a failure into this request; counts it down. */
export function takeFailure(behavior: Behavior): { status: number; headers: Record<string, string> } | undefined {
  if (behavior.failNext <= 0) return undefined;
  behavior.failNext -= 1;
  const retryAfter = behavior.retryAfterSeconds;
  return { status: behavior.failStatus, headers: retryAfter === undefined ? {} : { "retry-after": String(retryAfter) } };
}

/** Answers a request the fake refuses with OpenAI's 400, naming the field. */
export type Reject = (message: string, param: string) => void;

/** A multipart upload's form; undefined, after `reject` has answered 400, when the call is not one. */
export async function uploadedForm(call: IncomingCall, reject: Reject, param: string): Promise<FormData | undefined> {
  const type = call.headers["content-type"];
  if (typeof type !== "string" || !type.startsWith("multipart/form-data")) {
    reject("Send the files as multipart/form-data.", param);
    return undefined;
  }
  try {
    return await new Response(call.rawBody, { headers: { "content-type": type } }).formData();
  } catch {
    reject("The multipart body could not be parsed.", param);
    return undefined;
  }
}
