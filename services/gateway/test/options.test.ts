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
});
