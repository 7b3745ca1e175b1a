import { createClient, type ConnectRouter } from "@connectrpc/connect";
import { InternalCredential, serveConnect, type ConnectServer } from "@gateway/common";
import { RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { eventually } from "@gateway/testing";
import { afterEach, describe, expect, it } from "vitest";
import { neverDelivered, replicaTransport } from "../src/replica-transport.js";

/** A router replica that answers ListModels with its own name, and streams it back from Complete. */
function replica(name: string) {
  return (router: ConnectRouter) =>
    router.service(RouterService, {
      listModels: () => ({ models: [{ name }] }),
      async *complete() {
        yield { event: { case: "response", value: new TextEncoder().encode(name) } };
      },
    });
}

const credential = new InternalCredential("sk-replica-transport-test-master");

describe("replicaTransport", () => {
  const servers: ConnectServer[] = [];

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close(0)));
  });

  async function start(name: string, port = 0): Promise<ConnectServer> {
    const server = await serveConnect(replica(name), { port, host: "127.0.0.1", credential });
    servers.push(server);
    return server;
  }

  const answeredBy = async (client: ReturnType<typeof createClient<typeof RouterService>>) => (await client.listModels({})).models[0]!.name;

  it("spreads calls over the replicas in turn", async () => {
    const [a, b] = [await start("a"), await start("b")];
    const client = createClient(RouterService, replicaTransport(`http://127.0.0.1:${a.port}, http://127.0.0.1:${b.port}`, credential));
    const names = [];
    for (let i = 0; i < 6; i++) names.push(await answeredBy(client));
    expect(names.sort()).toEqual(["a", "a", "a", "b", "b", "b"]);
  });

  it("moves calls and streams off a replica that stopped, and back once it returns", async () => {
    const [a, b] = [await start("a"), await start("b")];
    const client = createClient(RouterService, replicaTransport(`http://127.0.0.1:${a.port},http://127.0.0.1:${b.port}`, credential));
    await answeredBy(client);
    await a.close();
    for (let i = 0; i < 4; i++) expect(await answeredBy(client)).toBe("b");
    for (let i = 0; i < 4; i++) {
      const streamed = [];
      for await (const { event } of client.complete({})) if (event.case === "response") streamed.push(new TextDecoder().decode(event.value));
      expect(streamed).toEqual(["b"]);
    }
    await start("a again", a.port);
    await eventually("the returned replica to take calls", async () => ((await answeredBy(client)) === "a again" ? true : undefined));
  });

  it("fails when no replica is up, with the connection error", async () => {
    const [a, b] = [await start("a"), await start("b")];
    const client = createClient(RouterService, replicaTransport(`http://127.0.0.1:${a.port},http://127.0.0.1:${b.port}`, credential));
    await Promise.all([a.close(), b.close()]);
    const err = await client.listModels({}).catch((e: unknown) => e);
    expect(neverDelivered(err)).toBe(true);
  });

  it("counts only proof that a call never ran as a reason to retry elsewhere", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(neverDelivered(new Error("unavailable", { cause: refused }))).toBe(true);
    expect(neverDelivered(new Error("Stream closed with error code NGHTTP2_REFUSED_STREAM"))).toBe(true);
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(neverDelivered(new Error("aborted", { cause: reset }))).toBe(false);
    expect(neverDelivered(new Error("deadline exceeded"))).toBe(false);
  });
});
