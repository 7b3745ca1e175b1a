import { Code } from "@connectrpc/connect";
import { clientJson, driverMessage, filesCall, FILES_CALL_NAMES, formFields, gatewayError, ObjectIds, ownerOf, parsedBody, type FilesOperation, type Logger, type ObjectKind, type SealedRef, type Usage } from "@gateway/common";
import type { CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { Dispatcher } from "undici";
import { BatchUsage } from "./batch-cost.js";
import type { Deployment } from "./config/deployment.js";
import type { ModelGroups } from "./config/model-groups.js";
import type { BatchBookings } from "./db/batch-bookings.js";
import type { BookingRecovery } from "./db/schema.js";
import { costFor, finished, media, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { readJsonObject, readMedia, postForm, postJson, send } from "./providers/http.js";
import { adapterFor } from "./providers/index.js";
import type { AccountApi, Json, MediaResult } from "./providers/provider.js";
import { modelNotFound } from "./routing.js";

// OpenAI's Files and Batch APIs (/v1/files, /v1/batches), on the deployments
// of openai/, azure/ and the OpenAI-compatible providers. A new file (or a
// list) goes to a deployment of the model group the request names; every
// later call goes where the id says (object-ids.ts), for the caller who owns
// it. A batch file's requests are rewritten to name the deployment's model.
// The first answer that shows a batch finished (its creation, a read, a
// list, a cancel) books it: the call carries the batch's requests' tokens
// and cost, read from its output file (batch-cost.ts), and no other call
// does, on any router replica (db/batch-bookings.ts); should the call's
// router die before its usage event is written, batch-recovery.ts books it.

// Batches in these states run no more: their output file holds all they cost.
const FINISHED: ReadonlySet<unknown> = new Set(["completed", "failed", "expired", "cancelled"]);
// The files a batch object names.
const BATCH_FILE_IDS = ["input_file_id", "output_file_id", "error_file_id"] as const;

const noSuch = (kind: ObjectKind, id: string, param: string) =>
  gatewayError(`No such ${kind === "file" ? "File" : "Batch"} object: ${id}`, Code.NotFound, { type: "invalid_request_error", param });

const invalid = (message: string, param: string) => gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });

/** A JSON object body, as sent by a caller that is not the edge in this process. */
function jsonBody(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString());
  } catch {
    throw invalid("request body is not valid JSON", "");
  }
}

const ZERO: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, unitCost: 0 };

/** Two calls' usage together; both priced by their handler (unitCost). */
function sum(a: Usage, b: Usage): Usage {
  return {
    ...ZERO,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    unitCost: (a.unitCost ?? 0) + (b.unitCost ?? 0),
  };
}

/** The deployments of a model group that keep files; a 400 when it is unknown or has none. */
function filesHomes(groups: ModelGroups, model: string): Deployment[] {
  const group = groups.resolve(model);
  if (!group) throw modelNotFound(model, groups);
  const homes = group.deployments.filter((d) => adapterFor(d).accountApi !== undefined);
  if (homes.length === 0) throw invalid(`model ${model} has no deployment that keeps files and batches (openai/, azure/ and OpenAI-compatible deployments do)`, "model");
  return homes;
}

/** A batch file with each request naming the deployment's model: the model group's name (or none) is the client's. */
async function batchInput(file: File, model: string, d: Deployment): Promise<File> {
  const lines = (await file.text()).split("\n");
  for (const [i, line] of lines.entries()) {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      // Blank, or for the provider to refuse in the batch's errors.
      continue;
    }
    const body = (request as { body?: unknown } | null)?.body;
    if (body === null || typeof body !== "object" || Array.isArray(body)) continue;
    const named = (body as Json)["model"];
    if (named !== undefined && named !== model && named !== d.providerModel) {
      throw invalid(`line ${i + 1} of the batch file names model ${String(named)}: a batch runs on the deployment that keeps its file, so every request must name ${model}`, "file");
    }
    (body as Json)["model"] = d.providerModel;
    lines[i] = clientJson(request, "file");
  }
  return new File([lines.join("\n")], file.name, { type: file.type });
}

/** One call of the Files or Batch API, for one caller. */
class FilesCallRun {
  private readonly owner: string;

  constructor(
    private readonly api: FilesApi,
    private readonly req: CompleteRequest,
    private readonly groups: ModelGroups,
    private readonly signal: AbortSignal,
    private readonly outcome: Outcome,
    /** When the call began, unix ms: its usage event's start. */
    private readonly startMs: number,
  ) {
    this.owner = ownerOf(req);
  }

  /** What an id of the caller's holds; the same 404 for an id that is not the gateway's and one another caller owns. */
  owned(kind: ObjectKind, id: string, param: string): SealedRef {
    const ref = this.api.ids.read(kind, id);
    if (!ref || !ObjectIds.ownedBy(ref, this.owner)) throw noSuch(kind, id, param);
    return ref;
  }

  /** The deployment an object lives on. */
  holding(ref: SealedRef, id: string): Deployment {
    const d = this.groups.all().find((candidate) => candidate.id === ref.deployment);
    if (!d) throw gatewayError(`the deployment that holds ${id} is no longer in the model list`, Code.NotFound, { type: "invalid_request_error", param: "id" });
    return d;
  }

  mint(kind: ObjectKind, d: Deployment, model: string, id: unknown): unknown {
    return typeof id === "string" ? this.api.ids.mint(kind, { model, deployment: d.id, id }, this.owner) : id;
  }

  /** A provider's file or batch object with the gateway's ids in place of the provider's. */
  withIds(kind: ObjectKind, d: Deployment, model: string, object: Json): Json {
    const copy: Json = { ...object, id: this.mint(kind, d, model, object["id"]) };
    if (kind === "batch") for (const field of BATCH_FILE_IDS) if (field in object) copy[field] = this.mint("file", d, model, object[field]);
    return copy;
  }

  /** Where a call to the deployment's account goes, and how it is made: bounded by the deployment's timeout and the caller's leaving. */
  private upstream(d: Deployment, path: string, query: URLSearchParams) {
    const account: AccountApi = adapterFor(d).accountApi!(d);
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(d.timeoutMs)]);
    return { url: account.url(path, query.toString()), headers: account.headers, call: { signal, deployment: d }, secret: d.apiKey };
  }

  /** A call answered with JSON: without a body, or with a JSON one. */
  async json(d: Deployment, method: Dispatcher.HttpMethod, path: string, query: URLSearchParams, body?: Json): Promise<Json> {
    const req = this.upstream(d, path, query);
    const answer = body ? await postJson(d.provider, { ...req, body }) : await send(d.provider, req, method, req.headers, null);
    return readJsonObject(answer, d.provider, req.call.signal);
  }

  /** A file's content as the provider sends it. */
  async content(d: Deployment, path: string): Promise<MediaResult> {
    const req = this.upstream(d, path, new URLSearchParams());
    return readMedia(await send(d.provider, req, "GET", req.headers, null), d.provider, req.call.signal);
  }

  async upload(model: string): Promise<{ d: Deployment; answer: Json }> {
    const homes = filesHomes(this.groups, model);
    const d = homes[Math.floor(Math.random() * homes.length)]!;
    // The edge's parse, in one process.
    const fields = (parsedBody(this.req.body) ?? (await formFields(this.req.body, this.req.contentType))) as Json;
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      // LiteLLM's field naming the model group, not the provider's.
      if (name === "model") continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        const part = item instanceof File && fields["purpose"] === "batch" ? await batchInput(item, model, d) : item;
        form.append(name, part instanceof Blob ? part : String(part));
      }
    }
    const req = this.upstream(d, "/files", new URLSearchParams());
    const answer = await readJsonObject(await postForm(d.provider, req, form), d.provider, req.call.signal);
    return { d, answer: this.withIds("file", d, model, answer) };
  }

  /** A page of the group's files or batches: every deployment's, or, after an id, that one's deployment's next. */
  async list(kind: ObjectKind, model: string, query: URLSearchParams): Promise<{ homes: Deployment[]; pages: Json[]; answer: Json }> {
    // LiteLLM's parameter naming the model group, not the provider's.
    query.delete("model");
    const after = query.get("after");
    let homes: Deployment[];
    if (after) {
      const ref = this.owned(kind, after, "after");
      homes = [this.holding(ref, after)];
      query.set("after", ref.id);
    } else homes = filesHomes(this.groups, model);
    const path = kind === "file" ? "/files" : "/batches";
    const pages = await Promise.all(homes.map((d) => this.json(d, "GET", path, query)));
    const data = pages.flatMap((page, i) => (Array.isArray(page["data"]) ? (page["data"] as Json[]) : []).map((object) => this.withIds(kind, homes[i]!, model, object)));
    const answer = { object: "list", data, first_id: data[0]?.["id"] ?? null, last_id: data.at(-1)?.["id"] ?? null, has_more: pages.some((page) => page["has_more"] === true) };
    return { homes, pages, answer };
  }

  /**
   * Books the finished batches no call has booked yet: their requests' usage
   * and cost, summed, from their output files. A batch whose output cannot
   * be read now is left for a later read. Each is claimed with what this
   * call books for it, and the call confirms its claims once its usage event
   * is written (Outcome.claimedBatches).
   */
  async book(d: Deployment, batches: readonly Json[]): Promise<Usage> {
    const finished = new Map<string, string>();
    for (const { id, status, output_file_id: output } of batches) {
      if (typeof id === "string" && FINISHED.has(status) && typeof output === "string") finished.set(`${d.id}/${id}`, output);
    }
    if (finished.size === 0) return ZERO;
    const claimed = await this.api.bookings.claimed([...finished.keys()]);
    let total = ZERO;
    for (const [key, output] of finished) {
      if (claimed.has(key)) continue;
      let usage: Usage;
      try {
        usage = await this.read(d, output);
      } catch (err) {
        this.api.logger.warn({ requestId: this.req.requestId, deployment: d.id, err: (err as Error).message }, "a finished batch's output could not be read; a later read books it");
        continue;
      }
      if (!(await this.api.bookings.claim(key, this.recovery(d, usage)))) continue;
      (this.outcome.claimedBatches ??= []).push(key);
      total = sum(total, usage);
    }
    return total;
  }

  /** What this call books for one batch, should it never write its usage event. */
  private recovery(d: Deployment, usage: Usage): BookingRecovery {
    const { req } = this;
    return {
      requestId: req.requestId,
      startMs: this.startMs,
      keyHash: req.keyHash,
      keyAlias: req.keyAlias,
      userId: req.userId,
      teamId: req.teamId,
      endUser: req.endUser,
      requestTags: [...req.requestTags],
      modelGroup: d.modelGroup,
      deploymentId: d.id,
      provider: d.provider,
      providerModel: d.providerModel,
      callType: this.outcome.callName ?? "",
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      cachedTokens: usage.cachedTokens,
      cost: costFor(d, usage),
    };
  }

  /** A batch's usage and cost, from its output file's lines as they come. */
  private async read(d: Deployment, output: string): Promise<BatchUsage["usage"]> {
    const batch = new BatchUsage(d);
    const req = this.upstream(d, `/files/${encodeURIComponent(output)}/content`, new URLSearchParams());
    const answer = await send(d.provider, req, "GET", req.headers, null);
    const decoder = new TextDecoder();
    let rest = "";
    for await (const part of answer.body) {
      const lines = (rest + decoder.decode(part as Buffer, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) batch.add(line);
    }
    batch.add(rest + decoder.decode());
    return batch.usage;
  }
}

/** The Files and Batch API calls of a router replica. */
export class FilesApi {
  constructor(
    readonly ids: ObjectIds,
    readonly bookings: BatchBookings,
    readonly logger: Logger,
  ) {}

  /**
   * A call's usage event is written: the batches it claimed are booked when
   * the event carries them (`booked`), and given back for a later read when
   * the call failed before it had its usage (its event, already in the
   * ledger under the call's request id, could not take them in a sweep).
   */
  settle(batches: readonly string[], booked: boolean): void {
    (booked ? this.bookings.confirm(batches) : this.bookings.release(batches)).catch((err: unknown) => {
      this.logger.warn({ batches, err: driverMessage(err) }, "could not settle batch claims; they stay claimed until a sweep books them");
    });
  }

  /** Runs one call (CompleteRequest's method and path say which, begun at `startMs`) for the caller the request names. */
  async call(req: CompleteRequest, groups: ModelGroups, signal: AbortSignal, outcome: Outcome, startMs: number): Promise<CallEvent[]> {
    const at = req.path.indexOf("?");
    const path = at < 0 ? req.path : req.path.slice(0, at);
    const query = new URLSearchParams(at < 0 ? "" : req.path.slice(at + 1));
    const call = filesCall(req.method, path);
    if (!call) throw gatewayError(`${req.method} ${path} is not a call of the Files or Batch API`, Code.NotFound, { type: "not_found_error" });
    outcome.callName = FILES_CALL_NAMES[call.operation];
    const run = new FilesCallRun(this, req, groups, signal, outcome, startMs);
    const answer = await this.run(run, call.operation, call.id?.value ?? "", req, query);
    outcome.deployment = answer.d;
    const head = started(answer.d);
    const body = answer.media ? media(answer.media.contentType, answer.media.bytes) : response(answer.json);
    return [head, body, finished(outcome, answer.d, answer.usage ?? ZERO)];
  }

  private async run(
    run: FilesCallRun,
    operation: FilesOperation,
    id: string,
    req: CompleteRequest,
    query: URLSearchParams,
  ): Promise<{ d: Deployment; json?: Json; media?: MediaResult; usage?: Usage }> {
    switch (operation) {
      case "upload": {
        const { d, answer } = await run.upload(req.model);
        return { d, json: answer };
      }
      case "list_files": {
        const { homes, answer } = await run.list("file", req.model, query);
        return { d: homes[0]!, json: answer };
      }
      case "list_batches": {
        const { homes, pages, answer } = await run.list("batch", req.model, query);
        let usage = ZERO;
        for (const [i, d] of homes.entries()) usage = sum(usage, await run.book(d, (pages[i]!["data"] as Json[] | undefined) ?? []));
        return { d: homes[0]!, json: answer, usage };
      }
      case "create_batch": {
        const body = (parsedBody(req.body) ?? jsonBody(req.body)) as Json;
        const input = body["input_file_id"];
        if (typeof input !== "string") throw invalid("input_file_id is required: the id of a file uploaded with purpose batch", "input_file_id");
        const ref = run.owned("file", input, "input_file_id");
        const d = run.holding(ref, input);
        const { model: _group, ...sent } = body;
        const batch = await run.json(d, "POST", "/batches", new URLSearchParams(), { ...sent, input_file_id: ref.id });
        return { d, json: run.withIds("batch", d, ref.model, batch), usage: await run.book(d, [batch]) };
      }
      default:
        return this.byId(run, operation, id);
    }
  }

  /** The calls on one file or batch, which its id places. */
  private async byId(run: FilesCallRun, operation: FilesOperation, id: string): Promise<{ d: Deployment; json?: Json; media?: MediaResult; usage?: Usage }> {
    const kind: ObjectKind = operation.endsWith("batch") ? "batch" : "file";
    const ref = run.owned(kind, id, "id");
    const d = run.holding(ref, id);
    const at = `/${kind === "file" ? "files" : "batches"}/${encodeURIComponent(ref.id)}`;
    const none = new URLSearchParams();
    switch (operation) {
      case "retrieve_file":
        return { d, json: run.withIds("file", d, ref.model, await run.json(d, "GET", at, none)) };
      case "file_content":
        return { d, media: await run.content(d, `${at}/content`) };
      case "delete_file":
        return { d, json: { ...(await run.json(d, "DELETE", at, none)), id } };
      case "retrieve_batch": {
        const batch = await run.json(d, "GET", at, none);
        const usage = await run.book(d, [batch]);
        return { d, json: run.withIds("batch", d, ref.model, batch), usage };
      }
      default: {
        const batch = await run.json(d, "POST", `${at}/cancel`, none, {});
        return { d, json: run.withIds("batch", d, ref.model, batch), usage: await run.book(d, [batch]) };
      }
    }
  }
}
