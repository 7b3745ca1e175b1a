/**
 * `call` for each item, `size` at a time, the results in the items' order:
 * for providers that embed one text a call, so a long list neither goes out
 * one call after another nor all at once.
 */
export async function inGroups<Item, Result>(items: readonly Item[], size: number, call: (item: Item) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = [];
  for (let at = 0; at < items.length; at += size) results.push(...(await Promise.all(items.slice(at, at + size).map(call))));
  return results;
}
