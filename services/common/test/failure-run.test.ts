import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { createLogger, FailureRun } from "../src/index.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger("test", "debug", destination), lines };
}

const ERROR = 50;
const WARN = 40;
const INFO = 30;
const DEBUG = 20;

test("a run of failures logs its first at error, the rest at debug, and its end once at info with the count", () => {
  const { logger, lines } = capture();
  const run = new FailureRun(logger, "budget spend writes");
  run.succeeded();
  for (let i = 0; i < 5; i++) run.failed({ err: "connection refused" }, "writing budget spend failed");
  run.succeeded();
  run.succeeded();
  run.failed({ err: "connection refused" }, "writing budget spend failed");
  expect(lines.map((l) => [l["level"], l["msg"]])).toEqual([
    [ERROR, "writing budget spend failed"],
    [DEBUG, "writing budget spend failed"],
    [DEBUG, "writing budget spend failed"],
    [DEBUG, "writing budget spend failed"],
    [DEBUG, "writing budget spend failed"],
    [INFO, "budget spend writes go through again"],
    [ERROR, "writing budget spend failed"],
  ]);
  expect(lines[5]?.["failed"]).toBe(5);
  expect(lines[0]?.["err"]).toBe("connection refused");
});

test("a run whose failures lose nothing starts at warn", () => {
  const { logger, lines } = capture();
  const run = new FailureRun(logger, "usage publishes", "warn");
  run.failed({}, "usage publishes are failing");
  run.failed({}, "usage publishes are failing");
  expect(lines.map((l) => l["level"])).toEqual([WARN, DEBUG]);
});
