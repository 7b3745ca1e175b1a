import { describe, expect, it } from "vitest";
import { AnsweredStream } from "../src/answered-stream.js";
import type { CallEvent } from "../src/outcome.js";
import { readAll } from "./support/read-all.js";

const event = (c: string | undefined, n = 0) => ({ $typeName: "gateway.router.v1.CompleteResponse", event: { case: c }, n }) as unknown as CallEvent;
const STARTED = event("started");
const LAST_WORDS = event("finished", 99);

/** An AnsweredStream over a provider stream that has yielded STARTED, and a log of its end. */
function answered(rest: AsyncGenerator<CallEvent>, lastWords: CallEvent | null = LAST_WORDS) {
  const log: string[] = [];
  return { stream: new AnsweredStream(STARTED, rest, () => lastWords ?? undefined, () => log.push("end")), log };
}

/** The same, logging its first chunk too. */
function timed(rest: AsyncGenerator<CallEvent>) {
  const log: string[] = [];
  return { stream: new AnsweredStream(STARTED, rest, () => LAST_WORDS, () => log.push("end"), () => log.push("first chunk")), log };
}

describe("a stream a deployment has started answering", () => {
  it("passes the first event and the rest, then ends once", async () => {
    const { stream, log } = answered(
      (async function* () {
        yield event("chunk", 1);
        yield event("finished", 2);
      })(),
    );
    expect(await readAll(stream)).toEqual([STARTED, event("chunk", 1), event("finished", 2)]);
    expect(log).toEqual(["end"]);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["end"]);
  });

  it("marks its first chunk once, whatever its kind, and none when only Finished follows", async () => {
    const { stream, log } = timed(
      (async function* () {
        yield event("named_chunk", 1);
        yield event("chunk", 2);
        yield event("finished", 3);
      })(),
    );
    const first = await stream.next();
    expect(first.value).toBe(STARTED);
    expect(log).toEqual([]);
    await stream.next();
    expect(log).toEqual(["first chunk"]);
    await readAll(stream);
    expect(log).toEqual(["first chunk", "end"]);
    const empty = timed(
      (async function* () {
        yield event("finished", 1);
      })(),
    );
    await readAll(empty.stream);
    expect(empty.log).toEqual(["end"]);
  });

  it("says what was used before the error when it breaks before its Finished event", async () => {
    const { stream, log } = answered(
      (async function* () {
        yield event("chunk", 1);
        throw new Error("connection reset");
      })(),
    );
    const seen: CallEvent[] = [];
    await expect(async () => {
      for await (const e of stream) seen.push(e);
    }).rejects.toThrow("connection reset");
    expect(seen).toEqual([STARTED, event("chunk", 1), LAST_WORDS]);
    expect(log).toEqual(["end"]);
  });

  it("adds nothing when it breaks after its Finished event, or with no usage to report", async () => {
    const afterFinished = answered(
      (async function* () {
        yield event("finished", 1);
        throw new Error("late break");
      })(),
    );
    await expect(readAll(afterFinished.stream)).rejects.toThrow("late break");
    const noUsage = answered(
      (async function* () {
        yield event("chunk", 1);
        throw new Error("early break");
      })(),
      null,
    );
    const seen: CallEvent[] = [];
    await expect(async () => {
      for await (const e of noUsage.stream) seen.push(e);
    }).rejects.toThrow("early break");
    expect(seen).toEqual([STARTED, event("chunk", 1)]);
  });

  it("closes the provider's stream before ending when its reader stops", async () => {
    const log: string[] = [];
    const stream = new AnsweredStream(
      STARTED,
      (async function* () {
        try {
          yield event("chunk", 1);
          yield event("chunk", 2);
        } finally {
          log.push("provider stream closed");
        }
      })(),
      () => LAST_WORDS,
      () => log.push("end"),
    );
    for await (const e of stream) if (e !== STARTED) break;
    expect(log).toEqual(["provider stream closed", "end"]);
  });

  it("ends when its reader gives up before reading on", async () => {
    const { stream, log } = answered(
      (async function* () {
        yield event("chunk", 1);
      })(),
    );
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    expect(log).toEqual(["end"]);
  });
});
