import { describe, expect, it } from "vitest";
import { beforeAbort } from "../src/providers/http.js";
import { ProviderError } from "../src/providers/provider.js";

describe("a call's wait for credentials", () => {
  it("gives a value in hand as it is, and a fetched one once it comes", async () => {
    const signal = new AbortController().signal;
    expect(beforeAbort("token", "vertex_ai", signal)).toBe("token");
    await expect(beforeAbort(Promise.resolve("token"), "vertex_ai", signal)).resolves.toBe("token");
    await expect(beforeAbort(Promise.reject(new ProviderError("refused", 401, "authentication_error")), "vertex_ai", signal)).rejects.toMatchObject({ status: 401 });
  });

  it("ends with the call's deadline or its client's leaving, whatever the fetch still waits for", async () => {
    const never = new Promise<string>(() => undefined);
    const deadline = new AbortController();
    const waiting = beforeAbort(never, "vertex_ai", deadline.signal);
    deadline.abort(new DOMException("The operation timed out.", "TimeoutError"));
    await expect(waiting).rejects.toMatchObject({ status: 408, type: "timeout" });

    const left = new AbortController();
    left.abort();
    await expect(beforeAbort(never, "bedrock", left.signal)).rejects.toMatchObject({ status: 499, type: "request_cancelled" });
  });
});
