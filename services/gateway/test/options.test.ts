import { describe, expect, it } from "vitest";
import { parseOptions } from "../src/options.js";

describe("parseOptions", () => {
  it("keeps data in .data unless GATEWAY_DATA_DIR says where, and nowhere on disk when it is set empty", () => {
    expect(parseOptions([], {}).dataDir).toBe(".data");
    expect(parseOptions([], { GATEWAY_DATA_DIR: "/var/lib/gateway" }).dataDir).toBe("/var/lib/gateway");
    expect(parseOptions([], { GATEWAY_DATA_DIR: "" }).dataDir).toBeUndefined();
  });
});
