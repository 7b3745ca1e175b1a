import { requestTags, tagList } from "@gateway/common";

/** The request tags a key's or team's metadata names (LiteLLM's metadata.tags), read once when the row is loaded. */
export function metadataTags(metadata: unknown): string[] {
  const tags = metadata !== null && typeof metadata === "object" ? (metadata as Record<string, unknown>)["tags"] : undefined;
  return requestTags(tagList(tags));
}
