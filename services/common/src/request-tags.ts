/** Tags a request may carry, at most (the first ones count). */
export const REQUEST_TAGS_MAX = 32;
/** The most of one tag kept, in UTF-16 units. */
export const REQUEST_TAG_MAX_CHARS = 256;

// Shared by every request without tags; frozen, as nothing may add to it.
const NONE = Object.freeze([]) as unknown as string[];

/** The tags a list holds: its strings, trimmed (anything else in it, or a value that is no list, holds none). */
export function tagList(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string").map((item) => item.trim()) : NONE;
}

/**
 * Tags from any number of lists as one list: each tag once, in the order
 * first seen, empty ones left out, each cut to REQUEST_TAG_MAX_CHARS and at
 * most REQUEST_TAGS_MAX of them. Tags are the client's own text (and the
 * config's), and the ledger keeps and groups by them.
 */
export function requestTags(...lists: readonly (readonly string[] | undefined)[]): string[] {
  let tags: Set<string> | undefined;
  for (const list of lists) {
    if (!list) continue;
    for (const raw of list) {
      const tag = raw.length > REQUEST_TAG_MAX_CHARS ? raw.slice(0, REQUEST_TAG_MAX_CHARS) : raw;
      if (tag === "") continue;
      tags ??= new Set();
      if (tags.size === REQUEST_TAGS_MAX) return [...tags];
      tags.add(tag);
    }
  }
  return tags ? [...tags] : NONE;
}
