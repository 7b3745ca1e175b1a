import type { IncomingMessage } from "node:http";
import { requestTags, tagList } from "@gateway/common";
import { objectOf } from "./end-user.js";

const NO_TAGS: readonly string[] = [];

/** Tags in a metadata object (or one sent as a JSON string), when the body has it. */
function tagsIn(metadata: unknown): readonly string[] {
  return metadata === undefined ? NO_TAGS : tagList(objectOf(metadata)?.["tags"]);
}

/**
 * The tags a request carries for spend tracking and tag-based routing, as
 * LiteLLM reads them: the x-litellm-tags header (comma-separated), the
 * body's tags, its metadata.tags and litellm_metadata.tags, then the key's
 * and its team's (`keyTags`); each once, capped (requestTags).
 */
export function requestTagsOf(req: IncomingMessage, body: Record<string, unknown>, keyTags: readonly string[]): string[] {
  const header = req.headers["x-litellm-tags"];
  const fromHeader = typeof header === "string" ? header.split(",").map((tag) => tag.trim()) : NO_TAGS;
  return requestTags(fromHeader, body["tags"] === undefined ? NO_TAGS : tagList(body["tags"]), tagsIn(body["metadata"]), tagsIn(body["litellm_metadata"]), keyTags);
}
