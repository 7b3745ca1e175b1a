import type { Interceptor } from "@connectrpc/connect";
import { currentRequestId, withRequestId } from "./logger.js";

// Carries the edge's request id across Connect calls in split mode, so the
// keys and router processes log it on every line of the call too.
const HEADER = "x-gateway-request-id";

export const requestIdClientInterceptor: Interceptor = (next) => (req) => {
  const requestId = currentRequestId();
  if (requestId !== undefined) req.header.set(HEADER, requestId);
  return next(req);
};

export const requestIdServerInterceptor: Interceptor = (next) => async (req) => {
  const requestId = req.header.get(HEADER);
  if (requestId === null) return next(req);
  const res = await withRequestId(requestId, () => next(req));
  // A stream's handler runs as the stream is read: each read must be in scope too.
  return res.stream ? { ...res, message: inScope(requestId, res.message) } : res;
};

async function* inScope<T>(requestId: string, source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const step = await withRequestId(requestId, () => iterator.next());
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!done) await withRequestId(requestId, async () => iterator.return?.());
  }
}
