import type { IncomingMessage } from "node:http";
import { requestTags } from "@gateway/common";
import { objectOf } from "./end-user.js";

const NO_TAGS: readonly string[] = [];

/** The strings of a list (tags given as anything else are not read). */
function strings(v: unknown): readonly string[] {
  return Array.isArray(v) ? v.filter((item): item is string => typeof item === "string").map((item) => item.trim()) : NO_TAGS;
}

/** Tags in a metadata object (or one sent as a JSON string), when the body has it. */
function tagsIn(metadata: unknown): readonly string[] {
  return metadata === undefined ? NO_TAGS : strings(objectOf(metadata)?.["tags"]);
}

/**
 * The tags a request gives itself for spend tracking, as LiteLLM reads them:
 * the x-litellm-tags header (comma-separated), the body's tags, its
 * metadata.tags and litellm_metadata.tags; each once, capped (requestTags).
 */
export function requestTagsOf(req: IncomingMessage, body: Record<string, unknown>): string[] {
  const header = req.headers["x-litellm-tags"];
  const fromHeader = typeof header === "string" ? header.split(",").map((tag) => tag.trim()) : NO_TAGS;
  return requestTags(fromHeader, body["tags"] === undefined ? NO_TAGS : strings(body["tags"]), tagsIn(body["metadata"]), tagsIn(body["litellm_metadata"]));
}
