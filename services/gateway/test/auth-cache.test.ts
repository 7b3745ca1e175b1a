import { createClient, type Client } from "@connectrpc/connect";
import { createLogger, hashKey } from "@gateway/common";
import { AuthCache } from "@gateway/edge";
import { KeysService, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { replicaTransport } from "../src/replica-transport.js";
import { fakeOpenAIConfig, INTERNAL_CREDENTIAL, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, type GatewayPlumbing } from "./support/gateway.js";

// A split edge's kept Authorize answers, against a keys service over the
// network: kept only while its WatchKeys stream is open, and dropped when
// the key changes or the stream goes away.

let database: TestDatabase;
let bus: TestBus;
let plumbing: GatewayPlumbing;
let keysService: RunningGateway;
let keys: Client<typeof KeysService>;
let cache: AuthCache;
let config: string;
const asMaster = { headers: { authorization: `Bearer ${MASTER_KEY}` } };
const MODEL = "fast-model";

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  // The keys service reads the model list, never calls the provider.
  config = fakeOpenAIConfig("http://127.0.0.1:9");
  database = await createTestDatabase();
  bus = await createTestBus();
  plumbing = { databaseUrl: database.url, nats: bus };
  keysService = await startGateway(gatewayOptions("keys", config, plumbing));
  keys = createClient(KeysService, replicaTransport(`http://127.0.0.1:${keysService.port}`, INTERNAL_CREDENTIAL));
  cache = new AuthCache(keys, createLogger("test", "silent"));
  cache.start();
});

afterAll(async () => {
  await cache?.close();
  await keysService?.close();
  await bus?.close();
  await database?.drop();
});

async function answerFor(apiKey: string): Promise<AuthorizeResponse> {
  return keys.authorize({ apiKey, requestId: crypto.randomUUID(), model: MODEL });
}

/** Asks for the answer and keeps it as the edge does; whether it was kept. */
async function keep(apiKey: string): Promise<boolean> {
  const token = cache.token();
  const answer = await answerFor(apiKey);
  cache.put(hashKey(apiKey), MODEL, answer, token);
  return cache.get(hashKey(apiKey), MODEL) === answer;
}

describe("kept Authorize answers on a split edge", () => {
  it("keeps an answer once the watch is open, and drops it when its key changes", async () => {
    const minted = await keys.generateKey({}, asMaster);
    await eventually("the watch to open", async () => ((await keep(minted.key)) ? true : undefined));
    const before = cache.token();
    await keys.blockKey({ ref: { ref: { case: "key", value: minted.key } } }, asMaster);
    // Dropped because the change was pushed (the token moves), not because a second passed.
    await eventually("the change to reach the edge", async () => (cache.token() !== before ? true : undefined), 5000);
    expect(cache.get(hashKey(minted.key), MODEL)).toBeUndefined();
    // The blocked key's next answer is a refusal, which is never kept.
    await expect(answerFor(minted.key)).rejects.toMatchObject({ rawMessage: expect.stringContaining("blocked") });
  });

  it("never keeps an answer that reserves, or one asked for before a change", async () => {
    const limited = await keys.generateKey({ settings: { rpmLimit: 1000 } }, asMaster);
    expect(await keep(limited.key)).toBe(false);
    await eventually("the watch to open", async () => ((await keep(MASTER_KEY)) ? true : undefined));
    // A key none of whose answers was kept: the pushes of its own making may
    // reach the edge after an answer of it was, and would drop that one.
    const plain = await keys.generateKey({}, asMaster);
    const token = cache.token();
    const answer = await answerFor(plain.key);
    // Any change pushed meanwhile (here, a key made) makes the answer suspect.
    await keys.generateKey({}, asMaster);
    await eventually("the change to reach the edge", async () => (cache.token() !== token ? true : undefined), 5000);
    cache.put(hashKey(plain.key), MODEL, answer, token);
    expect(cache.get(hashKey(plain.key), MODEL)).toBeUndefined();
    // The same answer is kept when nothing changed since it was asked for.
    cache.put(hashKey(plain.key), MODEL, answer, cache.token());
    expect(cache.get(hashKey(plain.key), MODEL)).toBe(answer);
  });

  it("asks once for the requests that arrive together while nothing is kept", async () => {
    await eventually("the watch to open", async () => ((await keep(MASTER_KEY)) ? true : undefined));
    // A change pushed while the call is in flight (the keys made by the tests
    // before) rightly stops the sharing: such a round is run again.
    const { calls, answers } = await eventually("a round without a change pushed meanwhile", async () => {
      cache.clear();
      const token = cache.token();
      let asked = 0;
      const ask = () => {
        asked++;
        return answerFor(MASTER_KEY);
      };
      const round = await Promise.all(Array.from({ length: 50 }, () => cache.ask(hashKey(MASTER_KEY), MODEL, ask)));
      return cache.token() === token ? { calls: asked, answers: round } : undefined;
    });
    expect(calls).toBe(1);
    expect(new Set(answers).size).toBe(1);
    expect(cache.get(hashKey(MASTER_KEY), MODEL)).toBe(answers[0]);
  });

  it("lets each request of a key whose answers reserve ask for its own, together or not", async () => {
    const limited = await keys.generateKey({ settings: { rpmLimit: 1000 } }, asMaster);
    let calls = 0;
    const ask = () => {
      calls++;
      return answerFor(limited.key);
    };
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.ask(hashKey(limited.key), MODEL, ask)));
      expect(answers.every((a) => a.reserved)).toBe(true);
      expect(new Set(answers).size).toBe(20);
    }
    expect(calls).toBe(40);
  });

  it("drops everything when the keys service goes away, and keeps answers again once it is back", async () => {
    await eventually("the watch to open", async () => ((await keep(MASTER_KEY)) ? true : undefined));
    const answer = await answerFor(MASTER_KEY);
    const port = keysService.port;
    await keysService.close();
    // Its closing ends the watch stream: what was kept is dropped, and nothing more is kept.
    await eventually("the edge to stop keeping answers", async () => {
      cache.put(hashKey(MASTER_KEY), MODEL, answer, cache.token());
      return cache.get(hashKey(MASTER_KEY), MODEL) === undefined ? true : undefined;
    }, 5000);
    keysService = await startGateway(gatewayOptions("keys", config, plumbing, { port }));
    await eventually("the watch to open again", async () => ((await keep(MASTER_KEY)) ? true : undefined), 5000);
  });
});
