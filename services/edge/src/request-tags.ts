import type { IncomingMessage } from "node:http";
import { requestTags, tagList } from "@gateway/common";
import { objectOf } from "./end-user.js";

const NO_TAGS: readonly string[] = [];

/** Tags in a metadata object (or one sent as a JSON string), when the body has it. */
function tagsIn(metadata: unknown): readonly string[] {
  return metadata === undefined ? NO_TAGS : tagList(objectOf(metadata)?.["tags"]);
}

/**
 * The tags a request carries itself, for spend tracking, tag budgets and
 * tag-based routing, as LiteLLM reads them: the x-litellm-tags header
 * (comma-separated), the body's tags, its metadata.tags and
 * litellm_metadata.tags; each once, capped (requestTags). The key's and its
 * team's tags join them once the key is known (withKeyTags).
 */
export function requestTagsOf(req: IncomingMessage, body: Record<string, unknown>): string[] {
  const header = req.headers["x-litellm-tags"];
  const fromHeader = typeof header === "string" ? header.split(",").map((tag) => tag.trim()) : NO_TAGS;
  return requestTags(fromHeader, body["tags"] === undefined ? NO_TAGS : tagList(body["tags"]), tagsIn(body["metadata"]), tagsIn(body["litellm_metadata"]));
}

/** The request's own tags, then its key's and team's (`keyTags`). */
export function withKeyTags(own: string[], keyTags: readonly string[]): string[] {
  return keyTags.length === 0 ? own : requestTags(own, keyTags);
}
