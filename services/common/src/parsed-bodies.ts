/**
 * Request bodies already parsed in this process, by their bytes. The edge
 * parses a body to authorize it and the router needs it parsed again; in
 * one process the router gets the very same bytes and takes the edge's
 * parse from here (JSON.parse of a long prompt costs 0.1 ms and more).
 * Across processes nothing is found and the router parses its copy.
 * Entries go when the bytes do; nobody may change a parsed body.
 */
const parsed = new WeakMap<Uint8Array, Readonly<Record<string, unknown>>>();

export function rememberParsedBody(bytes: Uint8Array, body: Readonly<Record<string, unknown>>): void {
  parsed.set(bytes, body);
}

export function parsedBody(bytes: Uint8Array): Readonly<Record<string, unknown>> | undefined {
  return parsed.get(bytes);
}
