import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, startFakeBehindGateway, type FakeBehindGateway, type ModeGateway } from "./support/modes.js";

// Request tags for spend tracking (LiteLLM's request_tags), with the official
// client: tags from the x-litellm-tags header, the body's tags and
// metadata.tags and the answering deployment's litellm_params.tags are booked
// on the ledger row, none of them reaches the provider, and /spend/tags sums
// the spend per tag.

function tagsConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, ${at}, tags: ["env:prod", "region:eu"] }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, ${at} }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** A chat body with LiteLLM's fields, which the SDK's types do not name. */
type TaggedChat = Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, "metadata"> & { tags?: string[]; metadata?: Record<string, unknown> };

interface TagSpend {
  individual_request_tag: string;
  log_count: number;
  total_spend: number;
}

describe("request tags, one process", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(MODES[0]!, tagsConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const chat = (body: TaggedChat, tagHeader?: string) =>
    client.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming, tagHeader === undefined ? {} : { headers: { "x-litellm-tags": tagHeader } }).withResponse();
  const rowOf = async ({ response }: { response: Response }) => gateway.spendLog(response.headers.get("x-litellm-call-id")!);

  it("books the header's, the body's and the deployment's tags, each once, and sends none of them on", async () => {
    const answer = await chat(
      { model: "fast-model", messages: [{ role: "user", content: "tag me" }], tags: ["nightly", "batch", ""], metadata: { tags: ["job:42", "nightly"], user_id: "u-1" } },
      " app:cli , nightly,,",
    );
    expect(await rowOf(answer)).toMatchObject({ request_tags: ["app:cli", "nightly", "batch", "job:42", "env:prod", "region:eu"] });
    // LiteLLM's fields stay with the gateway: OpenAI refuses metadata that is not all strings.
    expect(provider.requests[0]!.body).not.toHaveProperty("tags");
    expect(provider.requests[0]!.body).not.toHaveProperty("metadata");
    expect(provider.requests[0]!.body).toMatchObject({ model: "gpt-4o-mini", messages: [{ role: "user", content: "tag me" }] });

    const untagged = await chat({ model: "smart-model", messages: [{ role: "user", content: "no tags" }] });
    expect(await rowOf(untagged)).toMatchObject({ request_tags: [] });

    // A stream is booked with its tags too; metadata sent as a JSON string is read as LiteLLM reads it.
    const streamed = { model: "smart-model", messages: [{ role: "user", content: "stream" }], stream: true, metadata: JSON.stringify({ tags: ["streamed"] }) };
    const { data: stream, response } = await client.chat.completions.create(streamed as unknown as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
    for await (const chunk of stream) expect(chunk.object).toBe("chat.completion.chunk");
    expect(await rowOf({ response })).toMatchObject({ request_tags: ["streamed"] });
  });

  it("adds the key's metadata tags to every request made with it", async () => {
    const { json: minted } = await admin<{ key: string }>(gateway.baseUrl, "POST", "/key/generate", { metadata: { tags: ["key:cron", "nightly"] } });
    const answer = await client.chat.completions
      .create({ model: "smart-model", messages: [{ role: "user", content: "key tags" }] }, { headers: { authorization: `Bearer ${minted.key}`, "x-litellm-tags": "nightly,app:cron" } })
      .withResponse();
    expect(await rowOf(answer)).toMatchObject({ request_tags: ["nightly", "app:cron", "key:cron"] });
  });

  it("sums spend and requests per tag on /spend/tags, highest spend first, within the dates asked", async () => {
    const costs: Record<string, number> = {};
    const count: Record<string, number> = {};
    const asks: [string, string[]][] = [
      ["smart-model", ["team:search"]],
      ["smart-model", ["team:search", "batch:1"]],
      ["fast-model", ["team:ads"]],
    ];
    const before = (await admin<TagSpend[]>(gateway.baseUrl, "GET", "/spend/tags")).json;
    for (const [model, tags] of asks) {
      const answer = await chat({ model, messages: [{ role: "user", content: `spend for ${tags.join(" ")}` }], tags });
      const row = await rowOf(answer);
      for (const tag of row["request_tags"] as string[]) {
        costs[tag] = (costs[tag] ?? 0) + (row["spend"] as number);
        count[tag] = (count[tag] ?? 0) + 1;
      }
    }
    const { status, json } = await admin<TagSpend[]>(gateway.baseUrl, "GET", "/spend/tags");
    expect(status).toBe(200);
    const earlier = new Map(before.map((t) => [t.individual_request_tag, t]));
    for (const [tag, spend] of Object.entries(costs)) {
      const listed = json.find((t) => t.individual_request_tag === tag)!;
      expect(listed.log_count).toBe(count[tag]! + (earlier.get(tag)?.log_count ?? 0));
      expect(listed.total_spend).toBeCloseTo(spend + (earlier.get(tag)?.total_spend ?? 0), 12);
    }
    const spends = json.map((t) => t.total_spend);
    expect(spends).toEqual([...spends].sort((a, b) => b - a));
    expect((await admin<TagSpend[]>(gateway.baseUrl, "GET", "/spend/tags?start_date=2000-01-01&end_date=2000-01-31")).json).toEqual([]);
    expect((await admin(gateway.baseUrl, "GET", "/spend/tags?start_date=someday")).status).toBe(400);
    const asClient = await fetch(`${gateway.baseUrl}/spend/tags`, { headers: { authorization: "Bearer sk-not-a-key" } });
    expect(asClient.status).toBe(401);
  });
});

describe("request tags, split services", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[1]!, tagsConfig);
  });
  afterAll(() => setup?.close());

  it("carry the client's tags from the edge to the router's usage event", async () => {
    const { openai, gateway } = setup;
    const { response } = await openai.chat.completions
      .create({ model: "fast-model", messages: [{ role: "user", content: "split" }] }, { headers: { "x-litellm-tags": "app:split" } })
      .withResponse();
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ request_tags: ["app:split", "env:prod", "region:eu"] });
    const tags = (await admin<TagSpend[]>(gateway.baseUrl, "GET", "/spend/tags")).json;
    expect(tags.map((t) => t.individual_request_tag).sort()).toEqual(["app:split", "env:prod", "region:eu"]);
  });
});

describe("tag-based routing (router_settings.enable_tag_filtering)", () => {
  let provider: FakeProvider;
  let client: OpenAI;
  fakeBehindGatewayPerTest(
    MODES[2]!,
    (fakeUrl) => {
      const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
      return writeConfig(`
model_list:
  - model_name: gpt-4
    litellm_params: { model: openai/free-tier, ${at}, tags: [free] }
  - model_name: gpt-4
    litellm_params: { model: openai/paid-tier, ${at}, tags: [paid] }
  - model_name: gpt-4
    litellm_params: { model: openai/house-tier, ${at}, tags: [default] }
  - model_name: backup
    litellm_params: { model: openai/backup-free, ${at}, tags: [free] }
router_settings:
  enable_tag_filtering: true
  num_retries: 0
  fallbacks: [{ gpt-4: [backup] }]
general_settings:
  master_key: ${MASTER_KEY}
`);
    },
    (setup) => ({ provider, openai: client } = setup),
  );

  const ask = (tags?: string[], headers: Record<string, string> = {}) =>
    client.chat.completions.create({ model: "gpt-4", messages: [{ role: "user", content: "route me" }], ...(tags && { tags }) } as OpenAI.ChatCompletionCreateParamsNonStreaming, { headers });
  const modelOf = (body: unknown) => (body as { model: string }).model;
  const lastModel = () => modelOf(provider.requests.at(-1)?.body);

  it("sends a request to the deployments its tags name, and an untagged one to the default", async () => {
    for (let i = 0; i < 5; i++) {
      await ask(["free"]);
      expect(lastModel()).toBe("free-tier");
      await ask(undefined, { "x-litellm-tags": "paid" });
      expect(lastModel()).toBe("paid-tier");
      await ask();
      expect(lastModel()).toBe("house-tier");
    }
  });

  it("refuses tags no deployment carries, and falls back only to deployments the tags name", async () => {
    await expect(ask(["gpu"])).rejects.toMatchObject({ status: 400, code: "no_deployments_with_tag_routing", param: "tags" });
    expect(provider.requests).toHaveLength(0);
    provider.behavior.failNext = 10;
    provider.behavior.failStatus = 503;
    // The fallback group has no deployment tagged paid; it has one tagged free, tried after the first group failed.
    await expect(ask(["paid"])).rejects.toMatchObject({ status: 503 });
    await expect(ask(["free"])).rejects.toMatchObject({ status: 503 });
    expect(provider.requests.map((r) => modelOf(r.body))).toEqual(["paid-tier", "free-tier", "backup-free"]);
  });
});
