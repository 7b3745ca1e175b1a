import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Answer } from "../src/calls.js";
import { CompleteEvents } from "../src/complete-events.js";
import type { CallEvent } from "../src/outcome.js";
import { readAll } from "./support/read-all.js";

const event = (n: number) => ({ $typeName: "gateway.router.v1.CompleteResponse", event: { case: undefined }, n }) as unknown as CallEvent;
const ABANDONED = new ConnectError("client closed the request", Code.Canceled);
const toError = (err: unknown) => new ConnectError((err as Error).message, Code.Unavailable);

/** A CompleteEvents over what `answer` resolves to, and a log of its start and end. */
function watch(answer: () => Promise<Answer>) {
  const log: string[] = [];
  const events = new CompleteEvents(
    () => {
      log.push("start");
      return answer();
    },
    toError,
    (error) => log.push(`end ${error ? error.message : "ok"}`),
    ABANDONED,
  );
  return { events, log };
}

describe("a Complete call's events", () => {
  it("hands over a call's whole answer and records one clean end as its last event goes out", async () => {
    const { events, log } = watch(async () => [event(1), event(2), event(3)]);
    expect(await events.next()).toEqual({ done: false, value: event(1) });
    expect(await events.next()).toEqual({ done: false, value: event(2) });
    expect(log).toEqual(["start"]);
    // Before the caller holds the last event (the edge answers its client on it).
    expect(await events.next()).toEqual({ done: false, value: event(3) });
    expect(log).toEqual(["start", "end ok"]);
    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["start", "end ok"]);
  });

  it("records a whole answer as done even when its caller stops once it has the last event", async () => {
    const { events, log } = watch(async () => [event(1), event(2)]);
    let read = 0;
    for await (const _ of events) if (++read === 2) break;
    expect(log).toEqual(["start", "end ok"]);
  });

  it("hands over a stream as it comes, and records its end once", async () => {
    const { events, log } = watch(async () =>
      (async function* () {
        yield event(1);
        log.push("between");
        yield event(2);
      })(),
    );
    expect(await readAll(events)).toEqual([event(1), event(2)]);
    expect(log).toEqual(["start", "between", "end ok"]);
  });

  it("fails a broken stream with the caller's error, recorded once", async () => {
    const { events, log } = watch(async () =>
      (async function* () {
        yield event(1);
        throw new Error("upstream broke");
      })(),
    );
    await expect(readAll(events)).rejects.toThrow(new ConnectError("upstream broke", Code.Unavailable));
    expect(log).toEqual(["start", "end [unavailable] upstream broke"]);
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it("records a call that never got an answer (a bad body, every deployment failing) as failed", async () => {
    const { events, log } = watch(() => Promise.reject(new Error("bad body")));
    await expect(events.next()).rejects.toMatchObject({ code: Code.Unavailable });
    expect(log).toEqual(["start", "end [unavailable] bad body"]);
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it("closes the stream before recording a caller that stopped reading", async () => {
    const { events, log } = watch(async () =>
      (async function* () {
        try {
          yield event(1);
          yield event(2);
        } finally {
          log.push("stream closed");
        }
      })(),
    );
    for await (const _ of events) break;
    expect(log).toEqual(["start", "stream closed", `end ${ABANDONED.message}`]);
  });

  it("records nothing for a call given up before it started", async () => {
    const { events, log } = watch(async () => [event(1)]);
    expect(await events.return()).toEqual({ done: true, value: undefined });
    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(log).toEqual([]);
  });
});
