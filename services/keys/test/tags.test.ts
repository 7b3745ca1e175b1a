import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Access, type AuthorizeResponse, type Tag, type TagSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { sameMinute } from "@gateway/testing";
import { describe, expect, it, vi } from "vitest";
import { MASTER, RESERVATION, asMaster, clientOf, keysService, type KeysClient } from "./support.js";

const service = keysService();
const client = service.client;

async function createTag(name: string, settings: MessageInitShape<typeof TagSettingsSchema> = {}): Promise<Tag> {
  const { tag } = await client().createTag({ name, settings }, asMaster);
  return tag!;
}

const getTag = async (name: string): Promise<Tag> => (await client().getTags({ names: [name] }, asMaster)).tags[0]!;

/** A new virtual key without limits of its own, carrying `tags` in its metadata when given. */
async function newKey(tags?: string[], teamId?: string): Promise<string> {
  const settings = { ...(tags && { metadataJson: JSON.stringify({ tags }) }), ...(teamId && { teamId }) };
  return (await client().generateKey({ settings }, asMaster)).key;
}

interface Ask {
  tags?: string[];
  requestId?: string;
  via?: KeysClient;
  access?: Access;
}

let requests = 0;
// A model call, as the edge asks: ACCESS_INFERENCE, with the request's own tags.
const ask = (apiKey: string, { tags = [], requestId = `req-${++requests}`, via = client(), access = Access.INFERENCE }: Ask = {}): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10, access, requestTags: tags });

const release = (auth: AuthorizeResponse, requestId: string, cost = 0) => client().release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost });

// LiteLLM's words for a tag over its budget, as clients match them.
const overBudget = (name: string, spend: number, budget: number) =>
  expect.stringMatching(new RegExp(`^Budget has been exceeded! Tag=${name} Current cost: ${spend}, Max budget: ${budget}\\. `));

describe("tag management", () => {
  it("creates a tag with its settings, and one without any", async () => {
    const made = await createTag("engineering", {
      description: "Engineering cost center",
      models: { models: ["fast-model"] },
      maxBudget: 500,
      budgetDuration: "30d",
      rpmLimit: 10,
      tpmLimit: 1000,
      maxParallelRequests: 2,
      softBudget: 400,
    });
    expect(made).toMatchObject({
      name: "engineering",
      description: "Engineering cost center",
      models: ["fast-model"],
      maxBudget: 500,
      budgetDuration: "30d",
      rpmLimit: 10,
      tpmLimit: 1000,
      maxParallelRequests: 2,
      softBudget: 400,
      spend: 0,
    });
    expect(Number(made.budgetResetAtMs)).toBeGreaterThan(Date.now());
    const plain = await createTag("  plain  ");
    expect(plain).toMatchObject({ name: "plain", description: "", models: [], budgetDuration: "" });
    for (const field of ["maxBudget", "budgetResetAtMs", "rpmLimit", "tpmLimit", "maxParallelRequests", "softBudget", "spend"] as const) {
      expect(plain[field]).toBeUndefined();
    }
    expect(await getTag("engineering")).toEqual(made);
  });

  it("refuses a missing, over-long or taken name and a bad duration, making nothing", async () => {
    await expect(createTag(" ")).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(createTag("x".repeat(257))).rejects.toMatchObject({ code: Code.InvalidArgument });
    await createTag("taken", { description: "First" });
    await expect(createTag("taken", { description: "Second" })).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: "Tag taken already exists" });
    expect((await getTag("taken")).description).toBe("First");
    await expect(createTag("badly-timed", { budgetDuration: "soon" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(createTag("negative", { softBudget: -1 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client().getTags({ names: ["badly-timed", "negative"] }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("reads the tags named, 404 naming those that do not exist, and lists them all", async () => {
    await createTag("read-a", { description: "A" });
    await createTag("read-b", { maxBudget: 3 });
    expect((await client().getTags({ names: ["read-b", "read-a", "read-b"] }, asMaster)).tags.map((t) => t.name)).toEqual(["read-b", "read-a"]);
    await expect(client().getTags({ names: ["read-a", "ghost-1", "ghost-2"] }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "Tags not found: ghost-1, ghost-2",
    });
    await expect(client().getTags({ names: [] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    const listed = (await client().listTags({}, asMaster)).tags;
    const names = listed.map((t) => t.name);
    expect(names.indexOf("read-a")).toBeLessThan(names.indexOf("read-b"));
    expect(listed.find((t) => t.name === "read-b")).toMatchObject({ maxBudget: 3, spend: 0 });
  });

  it("updates a tag's fields, clears its budget, and 404s an unknown one", async () => {
    await createTag("updated", { description: "Before", maxBudget: 10, rpmLimit: 5, models: { models: ["a"] } });
    const changed = (await client().updateTag({ name: "updated", settings: { description: "After", tpmLimit: 100, models: { models: [] } } }, asMaster)).tag;
    expect(changed).toMatchObject({ description: "After", maxBudget: 10, rpmLimit: 5, tpmLimit: 100, models: [], spend: 0 });
    const cleared = (await client().updateTag({ name: "updated", settings: { clear: ["max_budget", "description"] } }, asMaster)).tag!;
    expect(cleared.maxBudget).toBeUndefined();
    expect(cleared.description).toBe("");
    await expect(client().updateTag({ name: "updated", settings: { clear: ["name"] } }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client().updateTag({ name: "no-such-tag", settings: { rpmLimit: 1 } }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "Tag no-such-tag not found",
    });
  });

  it("deletes a tag, and a tag made again under its name starts from nothing", async () => {
    await createTag("reborn", { maxBudget: 1 });
    const key = await newKey();
    const auth = await ask(key, { tags: ["reborn"], requestId: "reborn-1" });
    await release(auth, "reborn-1", 0.01);
    expect((await getTag("reborn")).spend).toBe(0.01);
    expect(await client().deleteTag({ name: "reborn" }, asMaster)).toMatchObject({ name: "reborn" });
    await expect(client().deleteTag({ name: "reborn" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound, rawMessage: "Tag reborn not found" });
    await expect(ask(key, { tags: ["reborn"] })).resolves.toMatchObject({ reserved: false });
    await createTag("reborn", { maxBudget: 1 });
    expect((await getTag("reborn")).spend).toBe(0);
  });

  it("refuses every tag call without the master key", async () => {
    await createTag("guarded");
    const key = await newKey();
    for (const [options, code] of [
      [{}, Code.Unauthenticated],
      [{ headers: { authorization: `Bearer ${key}` } }, Code.PermissionDenied],
    ] as const) {
      for (const call of [
        () => client().createTag({ name: "intruder" }, options),
        () => client().updateTag({ name: "guarded", settings: { maxBudget: 1000 } }, options),
        () => client().getTags({ names: ["guarded"] }, options),
        () => client().listTags({}, options),
        () => client().deleteTag({ name: "guarded" }, options),
      ]) {
        await expect(call()).rejects.toMatchObject({ code });
      }
    }
    expect((await getTag("guarded")).maxBudget).toBeUndefined();
    await expect(getTag("intruder")).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("a tag's limits, whatever the key", () => {
  it("refuses every request carrying the tag once it has spent its budget, the master key's too, and no other", async () => {
    await createTag("spender", { maxBudget: RESERVATION * 1.5 });
    const a = await newKey();
    const b = await newKey();
    const auth = await ask(a, { tags: ["spender"], requestId: "overspend" });
    expect(auth.reserved).toBe(true);
    await release(auth, "overspend", RESERVATION * 2);
    expect((await getTag("spender")).spend).toBe(RESERVATION * 2);
    for (const apiKey of [b, a, MASTER]) {
      await expect(ask(apiKey, { tags: ["other", "spender"] })).rejects.toMatchObject({
        code: Code.FailedPrecondition,
        rawMessage: overBudget("spender", RESERVATION * 2, RESERVATION * 1.5),
      });
    }
    for (const apiKey of [a, MASTER]) {
      await expect(ask(apiKey, { tags: ["thrifty"] })).resolves.toMatchObject({ reserved: false });
      await expect(ask(apiKey)).resolves.toMatchObject({ reserved: false });
      // A lookup takes nothing.
      await expect(ask(apiKey, { tags: ["spender"], access: Access.LOOKUP })).resolves.toMatchObject({ reserved: false });
    }
  });

  it("holds a key whose metadata or team carries the tag, whatever the request says", async () => {
    await createTag("key-tagged", { maxParallelRequests: 1 });
    const { team } = await client().createTeam({ settings: { metadataJson: JSON.stringify({ tags: ["key-tagged"] }) } }, asMaster);
    for (const apiKey of [await newKey(["key-tagged"]), await newKey(undefined, team!.teamId)]) {
      const first = await ask(apiKey, { requestId: `held-${apiKey.slice(-6)}` });
      expect(first).toMatchObject({ reserved: true, reusableUntilMs: 0 });
      await expect(ask(await newKey(), { tags: ["key-tagged"] })).rejects.toMatchObject({
        code: Code.ResourceExhausted,
        rawMessage: "max_parallel_requests (1) reached for this tag",
      });
      await release(first, `held-${apiKey.slice(-6)}`);
    }
    // The tag named by the request and the key both holds one slot, not two.
    const both = await ask(await newKey(["key-tagged"]), { tags: ["key-tagged"], requestId: "both" });
    expect(both.reserved).toBe(true);
    await release(both, "both");
  });

  it("admits no more requests at once, across keys, the master key and replicas, than the tag's budget can reserve", async () => {
    const fits = 5;
    await createTag("contended", { maxBudget: RESERVATION * (fits + 0.5) });
    const apiKeys = [await newKey(), await newKey(["contended"]), MASTER];
    const other = await service.replica();
    const cost = RESERVATION / 2;
    try {
      const replicas = [client(), clientOf(other)];
      // Every pairing of key and replica, several times over, all at once.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          ask(apiKeys[Math.floor(i / 2) % apiKeys.length]!, { tags: ["contended"], requestId: `burst-${i}`, via: replicas[i % 2]! }),
        ),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringContaining("Tag=contended ") });
        }
      }
      await Promise.all(results.map((r, i) => (r.status === "fulfilled" ? release(r.value, `burst-${i}`, cost) : undefined)));
    } finally {
      await other.stop();
    }
    expect((await getTag("contended")).spend).toBeCloseTo(fits * cost, 12);
  });

  it("counts the tag's requests per minute over every key", async () => {
    await createTag("rpm", { rpmLimit: 3 });
    const a = await newKey();
    const b = await newKey(["rpm"]);
    // Four requests in the same minute window, so none of them sees it turn.
    await sameMinute();
    await ask(a, { tags: ["rpm"] });
    await ask(b);
    const third = await ask(MASTER, { tags: ["rpm"] });
    expect(third.rateLimit).toMatchObject({ limitRequests: 3, remainingRequests: 0 });
    await expect(ask(a, { tags: ["rpm"] })).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: "rpm limit (3) reached for this tag" });
    await expect(ask(a, { tags: ["not-rpm"] })).resolves.toMatchObject({ reserved: false });
  });
});

describe("a tag made on one replica", () => {
  it("holds requests on every replica", async () => {
    const other = await service.replica();
    try {
      await createTag("everywhere", { maxParallelRequests: 0 });
      // The other replica reloads its tags when told, a moment later.
      await vi.waitFor(() => expect(ask(MASTER, { tags: ["everywhere"], via: clientOf(other) })).rejects.toMatchObject({ code: Code.ResourceExhausted }));
    } finally {
      await other.stop();
    }
  });
});
