import type { IncomingMessage } from "node:http";
import { Code } from "@connectrpc/connect";
import { filesCall, gatewayError, type FilesCall } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { asViewer, callerOf, queryOf, readJsonObject, readUpload } from "../http.js";
import { ANSWERED_WHOLE, callModel, invalid, type ModelApi } from "../model-call.js";

// OpenAI's Files and Batch APIs (/v1/files, /v1/batches). Each call runs on
// a deployment of one model group, which the key must be allowed to use: a
// new file names it (LiteLLM's `model` form field, or the x-litellm-model
// header), a list names it (the `model` query parameter, or the header), and
// every other call finds it in the id the gateway gave (object-ids.ts). The
// router checks whose the id is. Lists show every file of the provider's
// account, whoever made it, so they take a key that reads everything.

const MODEL_HEADER = "x-litellm-model";

type Read = { raw: Buffer; body: Record<string, unknown>; contentType: string };

/** The model group a new file or a list names. */
function namedModel(req: IncomingMessage, given: unknown): string {
  const header = req.headers[MODEL_HEADER];
  const model = typeof given === "string" && given !== "" ? given : typeof header === "string" ? header.trim() : "";
  if (model === "") throw invalid(`model is required: the model group whose deployment keeps the files (the model field, or the ${MODEL_HEADER} header)`, "model");
  return model;
}

/** The model group an id of the gateway's was made through; a 404 for one it did not give, once the key is known to be good. */
async function modelOf(ctx: RequestContext, kind: "file" | "batch", id: unknown, param: string): Promise<string> {
  if (typeof id !== "string" || id === "") throw invalid(`${param} is required`, param);
  const ref = ctx.options.objectIds.read(kind, id);
  if (ref) return ref.model;
  // A bad key hears of its key, not of the ids it tries.
  await callerOf(ctx);
  throw gatewayError(`No such ${kind === "file" ? "File" : "Batch"} object: ${id}`, Code.NotFound, { type: "invalid_request_error", param });
}

/** The request's body (none but an upload's and a new batch's) and the model group it runs on, for the key check. */
async function bodyOf(ctx: RequestContext, call: FilesCall, limit: number): Promise<Read> {
  const { req } = ctx;
  switch (call.operation) {
    case "upload": {
      const read = await readUpload(req, limit);
      return { ...read, body: { ...read.body, model: namedModel(req, read.body["model"]) } };
    }
    case "create_batch": {
      const { raw, body } = await readJsonObject(req, limit);
      return { raw, body: { ...body, model: await modelOf(ctx, "file", body["input_file_id"], "input_file_id") }, contentType: "" };
    }
    case "list_files":
    case "list_batches":
      return { raw: Buffer.alloc(0), body: { model: namedModel(req, queryOf(req).get("model")) }, contentType: "" };
    default:
      return { raw: Buffer.alloc(0), body: { model: await modelOf(ctx, call.id!.kind, call.id!.value, "id") }, contentType: "" };
  }
}

/** Every /v1/files and /v1/batches route: the key's check, then the router's call. */
export async function files(ctx: RequestContext): Promise<void> {
  const call = filesCall(ctx.req.method ?? "", ctx.path);
  if (!call) throw gatewayError(`${ctx.req.method} ${ctx.path} is not a route of the Files or Batch API`, Code.NotFound, { type: "not_found_error" });
  if (call.operation === "list_files" || call.operation === "list_batches") await asViewer(ctx);
  const api: ModelApi = {
    ...ANSWERED_WHOLE,
    callType: CallType.FILES,
    sendsPath: true,
    // A batch's cost is booked when it finishes; reading its results must not need room for a price it used up.
    costUnknown: true,
    readBody: (_req, limit) => bodyOf(ctx, call, limit),
    // A file is not a prompt: nothing of it is reserved against the key's tokens.
    promptBound: () => 0,
  };
  return callModel(ctx, api);
}
