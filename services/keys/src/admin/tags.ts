import { Code } from "@connectrpc/connect";
import { gatewayError, pgErrorCode, REQUEST_TAG_MAX_CHARS } from "@gateway/common";
import type { CreateTagRequest, DeleteTagRequest, GetTagsRequest, Tag, UpdateTagRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { tagAllowanceId, tagLimits, toTagProto, type TagRow } from "../tag-record.js";
import { carrySpend } from "./carry-spend.js";
import type { AdminDeps } from "./context.js";
import { tagSettingsPatch } from "./settings.js";
import { viewsWithSpend } from "./views.js";

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** LiteLLM's words for a tag it does not know. */
const notFound = (name: string) => gatewayError(`Tag ${name} not found`, Code.NotFound, { type: "not_found_error", param: "name" });

const tagViews = (deps: AdminDeps, rows: TagRow[]): Promise<Tag[]> => viewsWithSpend(deps, rows, tagLimits, toTagProto);

async function tagView(deps: AdminDeps, row: TagRow): Promise<Tag> {
  const [view] = await tagViews(deps, [row]);
  return view as Tag;
}

async function existing(deps: AdminDeps, name: string): Promise<TagRow> {
  if (name === "") throw invalid("name is required", "name");
  const [row] = await deps.tagStore.byNames([name]);
  if (!row) throw notFound(name);
  return row;
}

export async function createTag(deps: AdminDeps, req: CreateTagRequest): Promise<{ tag: Tag }> {
  const name = req.name.trim();
  if (name === "") throw invalid("name is required", "name");
  // A request's tags are trimmed and cut to this much; a longer name would never match one.
  if (name.length > REQUEST_TAG_MAX_CHARS) throw invalid(`name must be at most ${REQUEST_TAG_MAX_CHARS} characters`, "name");
  const patch = tagSettingsPatch(req.settings);
  const row = await deps.tagStore.insert({ name, ...patch }).catch((err: unknown) => {
    if (pgErrorCode(err) === "23505") throw invalid(`Tag ${name} already exists`, "name");
    throw err;
  });
  await deps.tags.changed([row.name]);
  return { tag: await tagView(deps, row) };
}

export async function updateTag(deps: AdminDeps, req: UpdateTagRequest): Promise<{ tag: Tag }> {
  const current = await existing(deps, req.name);
  const row = await deps.tagStore.update(current.name, tagSettingsPatch(req.settings), (tx, row) => carrySpend(deps.allowances.in(tx), tagLimits(current), tagLimits(row), req.spendBefore));
  if (!row) throw notFound(req.name);
  await deps.tags.changed([row.name]);
  return { tag: await tagView(deps, row) };
}

/** The tags named, in the order named; a 404 naming those that do not exist, as LiteLLM's /tag/info. */
export async function getTags(deps: AdminDeps, req: GetTagsRequest): Promise<{ tags: Tag[] }> {
  const names = [...new Set(req.names)];
  if (names.length === 0) throw invalid("names must name at least one tag", "names");
  const rows = new Map((await deps.tagStore.byNames(names)).map((row) => [row.name, row]));
  const missing = names.filter((name) => !rows.has(name));
  if (missing.length > 0) throw gatewayError(`Tags not found: ${missing.join(", ")}`, Code.NotFound, { type: "not_found_error", param: "names" });
  return { tags: await tagViews(deps, names.map((name) => rows.get(name) as TagRow)) };
}

export async function listTags(deps: AdminDeps): Promise<{ tags: Tag[] }> {
  return { tags: await tagViews(deps, await deps.tagStore.all()) };
}

/** Deletes the tag and its limits' state; requests carrying it are then held to nothing of it. */
export async function deleteTag(deps: AdminDeps, req: DeleteTagRequest): Promise<{ name: string }> {
  const current = await existing(deps, req.name);
  const deleted = await deps.tagStore.delete(current.name);
  if (!deleted) throw notFound(req.name);
  await deps.tags.changed([deleted.name]);
  await deps.allowances.forget([tagAllowanceId(deleted)]);
  return { name: deleted.name };
}
