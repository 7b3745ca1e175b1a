import { describe, expect, it } from "vitest";
import { parseOptions, UsageError } from "../src/options.js";

describe("parseOptions", () => {
  it("keeps data in .data unless GATEWAY_DATA_DIR says where, and nowhere on disk when it is set empty", () => {
    expect(parseOptions([], {}).dataDir).toBe(".data");
    expect(parseOptions([], { GATEWAY_DATA_DIR: "/var/lib/gateway" }).dataDir).toBe("/var/lib/gateway");
    expect(parseOptions([], { GATEWAY_DATA_DIR: "" }).dataDir).toBeUndefined();
  });
  it("refuses LiteLLM flags it does not take, naming the flag, rather than ignoring them", () => {
    for (const flag of ["--num_workers", "--detailed_debug"]) {
      expect(() => parseOptions([flag, "4"], {})).toThrow(UsageError);
      expect(() => parseOptions([flag, "4"], {})).toThrow(`Unknown option '${flag}'`);
    }
    expect(parseOptions(["-c", "litellm.yaml", "--port", "8000"], {})).toMatchObject({ configPath: "litellm.yaml", port: 8000 });
  });
  it("waits 30 s for Postgres and NATS at start unless GATEWAY_START_WAIT_SECONDS says otherwise, and refuses a wait that is not a number of seconds", () => {
    expect(parseOptions([], {}).startWaitMs).toBe(30_000);
    expect(parseOptions([], { GATEWAY_START_WAIT_SECONDS: "0" }).startWaitMs).toBe(0);
    expect(parseOptions([], { GATEWAY_START_WAIT_SECONDS: "2.5" }).startWaitMs).toBe(2_500);
    expect(() => parseOptions([], { GATEWAY_START_WAIT_SECONDS: "soon" })).toThrow('GATEWAY_START_WAIT_SECONDS must be a number of seconds, got "soon"');
  });
  it("gives a Postgres statement 60 s unless GATEWAY_DATABASE_QUERY_TIMEOUT_SECONDS says otherwise (0: no limit)", () => {
    expect(parseOptions([], {}).databaseQueryTimeoutMs).toBe(60_000);
    expect(parseOptions([], { GATEWAY_DATABASE_QUERY_TIMEOUT_SECONDS: "0" }).databaseQueryTimeoutMs).toBe(0);
    expect(parseOptions([], { GATEWAY_DATABASE_QUERY_TIMEOUT_SECONDS: "5" }).databaseQueryTimeoutMs).toBe(5_000);
  });
});
