/**
 * A copy of `base` with `fields` set over it. Not `{ ...base, field: … }`:
 * V8 (Node 20) builds a spread followed by fields the spread object lacks
 * 20–100 times slower, about 1–3 µs each time, and such objects were most of
 * what a request kept past a young-generation collection. Hot paths build
 * their objects field by field or with this.
 */
export function withFields<T extends object, F extends object>(base: T, fields: F): T & F {
  return Object.assign(Object.assign({}, base), fields);
}
