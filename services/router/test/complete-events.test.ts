import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CompleteEvents } from "../src/complete-events.js";
import type { CallEvent } from "../src/outcome.js";

const event = (n: number) => ({ $typeName: "gateway.router.v1.CompleteResponse", event: { case: undefined }, n }) as unknown as CallEvent;
const ABANDONED = new ConnectError("client closed the request", Code.Canceled);
const toError = (err: unknown) => new ConnectError((err as Error).message, Code.Unavailable);

/** The events of a CompleteEvents over `source`, and the ends it recorded, in order with what the source did. */
function watch(source: () => AsyncGenerator<CallEvent>) {
  const log: string[] = [];
  const events = new CompleteEvents(
    () => {
      log.push("start");
      return source();
    },
    toError,
    (error) => log.push(`end ${error ? error.message : "ok"}`),
    ABANDONED,
  );
  return { events, log };
}

describe("a Complete call's events", () => {
  it("records one clean end after the last event", async () => {
    const { events, log } = watch(async function* () {
      yield event(1);
      yield event(2);
    });
    const seen = [];
    for await (const e of events) seen.push(e);
    expect(seen).toEqual([event(1), event(2)]);
    expect(log).toEqual(["start", "end ok"]);
    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["start", "end ok"]);
  });

  it("fails with the caller's error, recorded once", async () => {
    const { events, log } = watch(async function* () {
      yield event(1);
      throw new Error("upstream broke");
    });
    await expect(async () => {
      for await (const _ of events);
    }).rejects.toThrow(new ConnectError("upstream broke", Code.Unavailable));
    expect(log).toEqual(["start", "end [unavailable] upstream broke"]);
  });

  it("records a call that cannot start (a bad body) as failed", async () => {
    const events = new CompleteEvents(
      () => {
        throw new Error("bad body");
      },
      toError,
      (error) => log.push(error?.message ?? "ok"),
      ABANDONED,
    );
    const log: string[] = [];
    await expect(events.next()).rejects.toMatchObject({ code: Code.Unavailable });
    expect(log).toEqual(["[unavailable] bad body"]);
  });

  it("closes the router's call before recording a caller that stopped reading", async () => {
    const { events, log } = watch(async function* () {
      try {
        yield event(1);
        yield event(2);
      } finally {
        log.push("router closed");
      }
    });
    for await (const _ of events) break;
    expect(log).toEqual(["start", "router closed", `end ${ABANDONED.message}`]);
  });

  it("records nothing for a call given up before it started", async () => {
    const { events, log } = watch(async function* () {
      yield event(1);
    });
    expect(await events.return()).toEqual({ done: true, value: undefined });
    expect(log).toEqual([]);
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });
});
