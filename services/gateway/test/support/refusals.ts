import { expect } from "vitest";

/** A refusal by its error type: rpm, tpm and parallel requests refuse with a 429, a budget with a 400, a blocked key with a 401. */
export type Refusal = "rate_limit_error" | "budget_exceeded" | "authentication_error";

const STATUS: Record<Refusal, number> = { rate_limit_error: 429, budget_exceeded: 400, authentication_error: 401 };

/**
 * Expects a failed request to be one of the refusals given (by status and
 * error type), not a server error: a test counting the requests a limit
 * refused would otherwise count a 500 or a 503 as refused, and pass.
 */
export function expectRefusal(err: unknown, kinds: readonly Refusal[] = ["rate_limit_error", "budget_exceeded"]): void {
  const { status, type } = err as { status?: number; type?: string };
  expect(
    kinds.map((kind) => `${STATUS[kind]} ${kind}`),
    `a refusal, not ${String(err)}`,
  ).toContain(`${status} ${type}`);
}
