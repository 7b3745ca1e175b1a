import type { EventEmitter } from "node:events";

/** Resolves when a stream has taken what was written to it ("drain"), or is gone ("close"). */
export function drained(writable: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writable.off("drain", done);
      writable.off("close", done);
      resolve();
    };
    writable.once("drain", done);
    writable.once("close", done);
  });
}
