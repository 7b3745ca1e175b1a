import OpenAI from "openai";

/** Something to do to the system once `after` requests have completed. */
export interface Step {
  after: number;
  action: () => Promise<void>;
}

export interface LoadResult {
  /** Request ids of the completions that were answered in full. */
  served: string[];
  failures: unknown[];
}

/**
 * Sends `total` chat completions (streamed and not, alternately) from
 * `concurrency` workers and runs the steps on the way, under that traffic:
 * a step starts when `after` requests have completed, after the step before
 * it has finished, and no request past the next step's mark starts before it
 * has. Bounded by `total`, whatever the steps do.
 */
export async function driveCompletions(client: OpenAI, total: number, concurrency: number, steps: Step[] = []): Promise<LoadResult> {
  const served: string[] = [];
  const failures: unknown[] = [];
  let started = 0;
  let completed = 0;
  let chain = Promise.resolve();
  const pending = [...steps].sort((a, b) => a.after - b.after);
  // Each step's completion, by its mark, so workers can wait for it.
  const stepDone = new Map<number, Promise<void>>();

  function startDueSteps(): void {
    while (pending.length > 0 && pending[0]!.after <= completed) {
      const step = pending.shift()!;
      chain = chain.then(step.action);
      stepDone.set(step.after, chain);
    }
  }

  /**
   * Request n waits for every step it is not needed to reach: with
   * `concurrency` workers, requests below after + concurrency may be the
   * ones that bring the count to `after`.
   */
  async function waitForSteps(n: number): Promise<void> {
    for (const step of steps) {
      if (n < step.after + concurrency) continue;
      while (!stepDone.has(step.after)) await new Promise((resolve) => setTimeout(resolve, 5));
      await stepDone.get(step.after);
    }
  }

  async function one(n: number): Promise<void> {
    const content = `load request ${n}`;
    try {
      if (n % 2 === 0) {
        const { response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content }] }).withResponse();
        served.push(response.headers.get("x-litellm-call-id")!);
      } else {
        const { data, response } = await client.chat.completions.create({ model: "fast-model", stream: true, messages: [{ role: "user", content }] }).withResponse();
        for await (const _ of data);
        served.push(response.headers.get("x-litellm-call-id")!);
      }
    } catch (err) {
      failures.push(err);
    }
  }

  async function worker(): Promise<void> {
    while (started < total) {
      const n = started++;
      await waitForSteps(n);
      await one(n);
      completed++;
      startDueSteps();
    }
  }

  await Promise.all(Array.from({ length: concurrency }, worker));
  startDueSteps();
  // Steps whose mark the traffic never reached still run, after it.
  for (const step of pending.splice(0)) chain = chain.then(step.action);
  await chain;
  return { served, failures };
}
