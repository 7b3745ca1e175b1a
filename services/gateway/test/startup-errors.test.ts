import { createServer, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// Nothing to keep: PGlite in memory, so each start is quick.
const IN_MEMORY = { DATABASE_URL: "", NATS_URL: "", GATEWAY_DATA_DIR: "", FAKE_PROVIDER_KEY: PROVIDER_KEY };

describe("a gateway that cannot listen", () => {
  const processes = new ProcessGroup();
  // Never called: the gateway stops before it serves.
  const configPath = fakeOpenAIConfig("http://127.0.0.1:9");
  afterAll(() => processes.close());

  it("on a port something else holds, exits 2 with one line that says so, not a stack trace", async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const start = processes.start("all", { configPath, port, env: IN_MEMORY });
      await expect(start).rejects.toThrow(new RegExp(`exited \\(2\\) before listening:\\n[^]*cannot listen on 127\\.0\\.0\\.1:${port}: something else already does`));
      await expect(start).rejects.not.toThrow(/setupListenHandle/);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("on an address no interface has, exits 2 and names the host setting", async () => {
    // TEST-NET-1 (RFC 5737): never assigned to this machine.
    const start = processes.start("all", { configPath, env: IN_MEMORY, args: ["--host", "192.0.2.1"] });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*cannot listen on 192\.0\.2\.1(:\d+)?: no interface of this machine has that address; check --host or HOST/);
  });
});
