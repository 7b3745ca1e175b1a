import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { errorBody, jsonBody, Refusal, sendError, sendRefusal } from "./openai-errors.js";
import { isRecord, sendJson, uploadedForm, type IncomingCall, type Json, type Reject } from "./reply.js";

// OpenAI's Files and Batch APIs over one in-memory store per server: an
// upload keeps its bytes, and a batch's requests get what the fake's own
// endpoints would answer them. A batch runs for behavior.batchDelayMs, yet
// nothing ticks meanwhile: every call to these routes first completes the
// batches whose time is up, so no timer outlives a test.

export const STORE_ROUTES: ReadonlySet<string> = new Set([
  "POST /files",
  "GET /files",
  "GET /files/{id}",
  "GET /files/{id}/content",
  "DELETE /files/{id}",
  "POST /batches",
  "GET /batches",
  "GET /batches/{id}",
  "POST /batches/{id}/cancel",
]);

/** A call to one of STORE_ROUTES: the route, the id in its path, and whether it came Azure's way. */
export interface StoreRoute {
  route: string;
  azure: boolean;
  id?: string;
}

/** A route's whole answer to a body (`POST /chat/completions`, …), or why it refuses it. */
export type Answer = (route: string, body: Json, behavior: Behavior) => Json | Refusal;

export type StoreHandler = (where: StoreRoute, call: IncomingCall, res: ServerResponse, behavior: Behavior) => Promise<void>;

const PURPOSES = ["batch", "assistants", "fine-tune", "vision", "user_data", "evals"];
const ENDPOINTS = new Set(["/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses"]);
const COMPLETION_WINDOW_SECONDS = 24 * 60 * 60;
const FILES_LIMIT = { fallback: 10_000, max: 10_000 };
const BATCHES_LIMIT = { fallback: 20, max: 100 };

interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: "processed";
  status_details: null;
  expires_at: null;
}

interface StoredFile {
  file: FileObject;
  content: Buffer;
}

interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

interface BatchObject {
  id: string;
  object: "batch";
  endpoint: string;
  errors: { object: "list"; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: "24h";
  status: "in_progress" | "completed" | "failed" | "cancelled";
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Json | null;
}

/** One request's line in the batch's output, answered when the batch was created. */
interface BatchResult {
  line: string;
  failed: boolean;
}

interface Batch {
  object: BatchObject;
  /** When the batch completes, in ms since the epoch. */
  dueAt: number;
  results: BatchResult[];
}

interface BatchRequest {
  customId: string;
  body: Json;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * The route answering a batch's endpoint, if it is one a batch can target.
 * Azure's older API versions name the endpoints without /v1.
 */
function endpointRoute(endpoint: unknown, azure: boolean): string | undefined {
  if (typeof endpoint !== "string") return undefined;
  const path = azure && !endpoint.startsWith("/v1/") ? `/v1${endpoint}` : endpoint;
  return ENDPOINTS.has(path) ? `POST ${path.slice("/v1".length)}` : undefined;
}

/** One input line's request, or what is wrong with it (the Refusal's param naming the field). */
function readRequest(text: string, endpoint: string, seen: Set<string>): BatchRequest | Refusal {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return new Refusal("The line is not valid JSON.");
  }
  if (!isRecord(line)) return new Refusal("The line must be a JSON object.");
  const { custom_id: customId, method, url, body } = line;
  if (typeof customId !== "string") return new Refusal("'custom_id' must be a string.", "custom_id");
  if (seen.has(customId)) return new Refusal(`The custom_id '${customId}' is used by an earlier line.`, "custom_id");
  seen.add(customId);
  if (method !== "POST") return new Refusal("'method' must be POST.", "method");
  if (url !== endpoint) return new Refusal(`'url' must be the batch's endpoint, ${endpoint}.`, "url");
  if (!isRecord(body)) return new Refusal("'body' must be an object.", "body");
  if (typeof body.model !== "string") return new Refusal("'body.model' must be a string.", "body.model");
  return { customId, body };
}

/** The input file's requests, and what is wrong with each bad line (numbered from 1). */
function readRequests(content: Buffer, endpoint: string): { requests: BatchRequest[]; errors: BatchError[] } {
  const requests: BatchRequest[] = [];
  const errors: BatchError[] = [];
  const seen = new Set<string>();
  content
    .toString("utf8")
    .split("\n")
    .forEach((text, index) => {
      if (text.trim() === "") return;
      const read = readRequest(text, endpoint, seen);
      if (read instanceof Refusal) errors.push({ code: "invalid_request", message: read.message, param: read.param, line: index + 1 });
      else requests.push(read);
    });
  if (requests.length === 0 && errors.length === 0) {
    errors.push({ code: "empty_file", message: "The batch input file has no requests.", param: null, line: null });
  }
  return { requests, errors };
}

/** The page of a list (newest first) that the query's `limit` and `after` cursor ask for, or why they are refused. */
function page(items: { id: string }[], query: Record<string, string>, limits: { fallback: number; max: number }): Json | Refusal {
  const limit = query.limit === undefined ? limits.fallback : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.max) return new Refusal(`'limit' must be an integer from 1 to ${limits.max}.`, "limit");
  const at = query.after === undefined ? -1 : items.findIndex((item) => item.id === query.after);
  // An unknown cursor (say, a deleted file) has nothing after it.
  const rest = query.after !== undefined && at < 0 ? [] : items.slice(at + 1);
  const data = rest.slice(0, limit);
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: rest.length > limit };
}

function notFound(res: ServerResponse, kind: "File" | "Batch", id: string, param: string): void {
  sendError(res, 404, `No such ${kind} object: ${id}`, null, {}, param);
}

function sendPage(res: ServerResponse, list: Json | Refusal): void {
  if (list instanceof Refusal) return sendRefusal(res, list);
  sendJson(res, 200, list);
}

/** The files and batches of one server; `answer` answers the batches' requests. */
export function createBatchStore(answer: Answer): StoreHandler {
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, Batch>();
  let fileCount = 0;
  let batchCount = 0;
  let requestCount = 0;

  function addFile(filename: string, purpose: string, content: Buffer, createdAt: number): FileObject {
    const id = `file-fake-${++fileCount}`;
    const file: FileObject = { id, object: "file", bytes: content.length, created_at: createdAt, filename, purpose, status: "processed", status_details: null, expires_at: null };
    files.set(id, { file, content });
    return file;
  }

  async function upload(call: IncomingCall, res: ServerResponse, reject: Reject): Promise<void> {
    const form = await uploadedForm(call, reject, "file");
    if (!form) return;
    const file = form.get("file");
    const purpose = form.get("purpose");
    if (!(file instanceof File)) return reject("'file' must be an uploaded file.", "file");
    if (typeof purpose !== "string" || !PURPOSES.includes(purpose)) return reject(`'purpose' must be one of ${PURPOSES.join(", ")}.`, "purpose");
    sendJson(res, 200, addFile(file.name, purpose, Buffer.from(await file.arrayBuffer()), seconds(Date.now())));
  }

  function listFiles(query: Record<string, string>): Json | Refusal {
    const all = [...files.values()].map(({ file }) => file).reverse();
    return page(query.purpose === undefined ? all : all.filter((file) => file.purpose === query.purpose), query, FILES_LIMIT);
  }

  function sendContent(res: ServerResponse, { content }: StoredFile): void {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": content.length });
    res.end(content);
  }

  /** The output line of one request, answered now as its endpoint would. */
  function run({ customId, body }: BatchRequest, route: string, behavior: Behavior): BatchResult {
    const n = ++requestCount;
    const answered = answer(route, body, behavior);
    const failed = answered instanceof Refusal;
    const response = failed
      ? { status_code: 400, request_id: `req_${n}`, body: errorBody(400, answered.message, answered.code, answered.param) }
      : { status_code: 200, request_id: `req_${n}`, body: answered };
    return { line: JSON.stringify({ id: `batch_req_${n}`, custom_id: customId, response, error: null }), failed };
  }

  /**
   * Completes a running batch whose time is up, dated when it was due: the
   * output file holds the answered requests, an error file (when there are
   * any) the refused ones, as OpenAI splits them.
   */
  function settle({ object, dueAt, results }: Batch, now: number): void {
    if (object.status !== "in_progress" || now < dueAt) return;
    const doneAt = seconds(dueAt);
    const jsonl = (lines: BatchResult[]) => Buffer.from(lines.map(({ line }) => `${line}\n`).join(""));
    const failed = results.filter((result) => result.failed);
    object.output_file_id = addFile(`${object.id}_output.jsonl`, "batch_output", jsonl(results.filter((result) => !result.failed)), doneAt).id;
    if (failed.length > 0) object.error_file_id = addFile(`${object.id}_error.jsonl`, "batch_output", jsonl(failed), doneAt).id;
    object.status = "completed";
    object.finalizing_at = doneAt;
    object.completed_at = doneAt;
    object.request_counts = { total: results.length, completed: results.length - failed.length, failed: failed.length };
  }

  /**
   * Creates the batch, answering its requests now. A file with bad lines
   * fails the batch before any request runs, so its counts stay at 0.
   */
  function startBatch(endpoint: string, route: string, input: StoredFile, metadata: Json | null, behavior: Behavior, now: number): BatchObject {
    const id = `batch_fake_${++batchCount}`;
    const createdAt = seconds(now);
    const { requests, errors } = readRequests(input.content, endpoint);
    const object: BatchObject = {
      id,
      object: "batch",
      endpoint,
      errors: null,
      input_file_id: input.file.id,
      completion_window: "24h",
      status: "in_progress",
      output_file_id: null,
      error_file_id: null,
      created_at: createdAt,
      in_progress_at: null,
      expires_at: createdAt + COMPLETION_WINDOW_SECONDS,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
    };
    if (errors.length > 0) {
      Object.assign(object, { status: "failed", failed_at: createdAt, errors: { object: "list", data: errors } });
    } else {
      Object.assign(object, { in_progress_at: createdAt, request_counts: { total: requests.length, completed: 0, failed: 0 } });
    }
    const batch = { object, dueAt: now + behavior.batchDelayMs, results: errors.length > 0 ? [] : requests.map((request) => run(request, route, behavior)) };
    batches.set(id, batch);
    settle(batch, now);
    return object;
  }

  function createBatch(call: IncomingCall, res: ServerResponse, reject: Reject, azure: boolean, behavior: Behavior, now: number): void {
    const body = jsonBody(call);
    if (body instanceof Refusal) return sendRefusal(res, body);
    const { input_file_id: inputFileId, endpoint, completion_window: window, metadata = null } = body;
    const route = endpointRoute(endpoint, azure);
    if (typeof inputFileId !== "string") return reject("Missing required parameter: 'input_file_id'.", "input_file_id");
    if (typeof endpoint !== "string" || route === undefined) return reject(`'endpoint' must be one of ${[...ENDPOINTS].join(", ")}.`, "endpoint");
    if (window !== "24h") return reject("'completion_window' must be 24h.", "completion_window");
    if (metadata !== null && !isRecord(metadata)) return reject("'metadata' must be an object.", "metadata");
    const input = files.get(inputFileId);
    if (!input) return notFound(res, "File", inputFileId, "input_file_id");
    sendJson(res, 200, startBatch(endpoint, route, input, metadata, behavior, now));
  }

  function cancel(res: ServerResponse, { object }: Batch, now: number): void {
    if (object.status !== "in_progress") return sendError(res, 400, `Cannot cancel a batch with status '${object.status}'.`);
    object.status = "cancelled";
    object.cancelling_at = seconds(now);
    object.cancelled_at = seconds(now);
    sendJson(res, 200, object);
  }

  return async ({ route, azure, id = "" }, call, res, behavior) => {
    const now = Date.now();
    for (const batch of batches.values()) settle(batch, now);
    const reject: Reject = (message, param) => sendError(res, 400, message, null, {}, param);
    const file = files.get(id);
    const batch = batches.get(id);
    switch (route) {
      case "POST /files":
        return upload(call, res, reject);
      case "GET /files":
        return sendPage(res, listFiles(call.query));
      case "GET /files/{id}":
        return file ? sendJson(res, 200, file.file) : notFound(res, "File", id, "id");
      case "GET /files/{id}/content":
        return file ? sendContent(res, file) : notFound(res, "File", id, "id");
      case "DELETE /files/{id}":
        if (!file) return notFound(res, "File", id, "id");
        files.delete(id);
        return sendJson(res, 200, { id, object: "file", deleted: true });
      case "POST /batches":
        return createBatch(call, res, reject, azure, behavior, now);
      case "GET /batches":
        return sendPage(res, page([...batches.values()].map(({ object }) => object).reverse(), call.query, BATCHES_LIMIT));
      case "GET /batches/{id}":
        return batch ? sendJson(res, 200, batch.object) : notFound(res, "Batch", id, "id");
      case "POST /batches/{id}/cancel":
        return batch ? cancel(res, batch, now) : notFound(res, "Batch", id, "id");
    }
  };
}
