/**
 * Maps keyed by names users give cross between services as lists of
 * entries (proto/gateway/entries/v1/entries.proto says why); these turn
 * them into and out of such lists without a plain object's assignment,
 * which drops a key "__proto__".
 */
export interface Entry<V> {
  key: string;
  value: V;
}

export function entryList<V>(from: Iterable<readonly [string, V]>): Entry<V>[] {
  return Array.from(from, ([key, value]) => ({ key, value }));
}

/** A plain object's own properties as entries ("__proto__" too, when JSON.parse made it one). */
export function objectEntries<V>(from: Record<string, V>): Entry<V>[] {
  return entryList(Object.entries(from));
}

export function entryMap<V>(entries: readonly Entry<V>[]): Map<string, V> {
  return new Map(entries.map((e) => [e.key, e.value]));
}

/** A JSON answer's object of them: Object.fromEntries makes each key an own property, "__proto__" too. */
export function entryObject<V>(entries: readonly Entry<V>[]): Record<string, V> {
  return Object.fromEntries(entries.map((e) => [e.key, e.value]));
}
