import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { USAGE_SUBJECT } from "@gateway/accounting";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { UsageEventSchema, UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, startSplitGateway } from "./support/gateway.js";

const [alice, bob] = ["a", "b"].map((c) => c.repeat(64)) as [string, string];
const at = (iso: string) => timestampFromMs(Date.parse(iso));

function usage(requestId: string, keyHash: string, teamId: string, modelGroup: string, startTime: string, cost: number, tokens: [number, number], endUser = ""): UsageEvent {
  return create(UsageEventSchema, {
    requestId,
    endUser,
    keyHash,
    keyAlias: keyHash === alice ? "alice-key" : "",
    userId: keyHash === alice ? "alice" : "bob",
    teamId,
    modelGroup,
    deploymentId: `${modelGroup}-1`,
    provider: "openai",
    providerModel: modelGroup === "smart-model" ? "gpt-4o" : "gpt-4o-mini",
    promptTokens: tokens[0],
    completionTokens: tokens[1],
    totalTokens: tokens[0] + tokens[1],
    cost,
    startTime: at(startTime),
    endTime: at(startTime),
    latencyMs: 10,
    status: UsageStatus.SUCCESS,
    httpStatus: 200,
    callType: "acompletion",
  });
}

// A known ledger, far enough back to stay out of every "last 30 days".
const LEDGER = [
  usage("req-1", alice, "team-a", "fast-model", "2024-05-10T08:00:00Z", 1, [10, 1], "acme"),
  usage("req-2", alice, "team-a", "smart-model", "2024-05-10T09:00:00Z", 2, [20, 2], "acme"),
  usage("req-3", bob, "", "fast-model", "2024-05-10T10:00:00Z", 4, [40, 4]),
  usage("req-4", alice, "team-a", "fast-model", "2024-05-11T08:00:00Z", 8, [80, 8], "globex"),
  usage("req-5", bob, "", "fast-model", "2024-05-12T23:59:59.999Z", 16, [160, 16]),
];

describe.each([
  { name: "one process", split: false },
  { name: "split services over Connect", split: true },
])("spend API, $name on Postgres and NATS", ({ split }) => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let gateway: RunningGateway;
  let baseUrl: string;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    bus = await createTestBus();
    const plumbing = { databaseUrl: database.url, nats: bus };
    const config = fakeOpenAIConfig(provider.url);
    gateway = split ? await startSplitGateway(config, plumbing) : await startGateway(gatewayOptions("all", config, plumbing));
    baseUrl = `http://127.0.0.1:${gateway.port}`;
    // As the router publishes them; the repeat of req-1 must not count twice.
    for (const event of [...LEDGER, LEDGER[0]!]) await bus.bus.publish(USAGE_SUBJECT, event.requestId, toBinary(UsageEventSchema, event));
    await eventually("the known ledger booked", async () => {
      const { json } = await admin<unknown[]>(baseUrl, "GET", "/spend/logs?start_date=2024-05-10&end_date=2024-05-12&summarize=false");
      return json.length === LEDGER.length ? true : undefined;
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("/spend/logs filters by key, user, request id and days, and pages", async () => {
    const ids = async (query: string) => (await admin<{ request_id: string }[]>(baseUrl, "GET", `/spend/logs?${query}`)).json.map((r) => r.request_id);
    expect(await ids(`api_key=${alice}`)).toEqual(["req-4", "req-2", "req-1"]);
    expect(await ids("user_id=bob")).toEqual(["req-5", "req-3"]);
    expect(await ids("request_id=req-2")).toEqual(["req-2"]);
    expect(await ids("start_date=2024-05-11")).toEqual(["req-5", "req-4"]);
    expect(await ids("start_date=2024-05-11&end_date=2024-05-12&summarize=false")).toEqual(["req-5", "req-4"]);
    expect(await ids("start_date=2024-05-10&end_date=2024-05-12&summarize=false&page=1&page_size=2")).toEqual(["req-5", "req-4"]);
    expect(await ids("start_date=2024-05-10&end_date=2024-05-12&summarize=false&page=3&page_size=2")).toEqual(["req-1"]);
    expect(await ids("end_date=2024-05-12&limit=1&offset=1")).toEqual(["req-4"]);
    const [row] = (await admin<Record<string, unknown>[]>(baseUrl, "GET", "/spend/logs?request_id=req-1")).json;
    expect(row).toMatchObject({ request_id: "req-1", api_key: alice, key_alias: "alice-key", spend: 1, prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, model_group: "fast-model", team_id: "team-a", user: "alice", startTime: "2024-05-10T08:00:00.000Z" });
    expect((await admin(baseUrl, "GET", "/spend/logs?page_size=-1")).status).toBe(400);
    for (const page of ["-1", "0", "4294967"]) {
      const { status, json } = await admin<{ error: { message: string; param: string } }>(baseUrl, "GET", `/spend/logs?page=${page}`);
      expect(status).toBe(400);
      expect(json.error).toMatchObject({ message: `page must be an integer from 1 to 4294966: ${page}`, param: "page" });
    }
  });

  it("/spend/logs given start_date and end_date answers LiteLLM's per-day totals, empty days after the last to end_date", async () => {
    const { status, json } = await admin(baseUrl, "GET", "/spend/logs?start_date=2024-05-10&end_date=2024-05-14");
    expect(status).toBe(200);
    expect(json).toEqual([
      { startTime: "2024-05-10", spend: 7, [alice]: 3, [bob]: 4, users: { alice: 3, bob: 4 }, models: { "gpt-4o-mini": 5, "gpt-4o": 2 } },
      { startTime: "2024-05-11", spend: 8, [alice]: 8, users: { alice: 8 }, models: { "gpt-4o-mini": 8 } },
      { startTime: "2024-05-12", spend: 16, [bob]: 16, users: { bob: 16 }, models: { "gpt-4o-mini": 16 } },
      { startTime: "2024-05-13", spend: 0, users: {}, models: {} },
      { startTime: "2024-05-14", spend: 0, users: {}, models: {} },
    ]);
    // The filters narrow it as they narrow rows.
    expect((await admin(baseUrl, "GET", `/spend/logs?start_date=2024-05-10&end_date=2024-05-11&api_key=${bob}`)).json).toEqual([
      { startTime: "2024-05-10", spend: 4, [bob]: 4, users: { bob: 4 }, models: { "gpt-4o-mini": 4 } },
      { startTime: "2024-05-11", spend: 0, users: {}, models: {} },
    ]);
    expect((await admin(baseUrl, "GET", "/spend/logs?start_date=2024-06-01&end_date=2024-06-02")).json).toEqual([]);
  });

  it("/global/spend/report groups by team per day", async () => {
    const { status, json } = await admin(baseUrl, "GET", "/global/spend/report?start_date=2024-05-10&end_date=2024-05-11&group_by=team");
    expect(status).toBe(200);
    expect(json).toEqual([
      {
        group_by_day: "2024-05-10",
        teams: [
          { team_name: "Unassigned Team", total_spend: 4, metadata: [{ model: "fast-model", api_key: bob, spend: 4, total_tokens: 44 }] },
          {
            team_name: "team-a",
            total_spend: 3,
            metadata: [
              { model: "fast-model", api_key: alice, spend: 1, total_tokens: 11 },
              { model: "smart-model", api_key: alice, spend: 2, total_tokens: 22 },
            ],
          },
        ],
      },
      { group_by_day: "2024-05-11", teams: [{ team_name: "team-a", total_spend: 8, metadata: [{ model: "fast-model", api_key: alice, spend: 8, total_tokens: 88 }] }] },
    ]);
  });

  it("/global/spend/report groups by customer (end user) per day, leaving out requests that named none", async () => {
    const { status, json } = await admin(baseUrl, "GET", "/global/spend/report?start_date=2024-05-10&end_date=2024-05-11&group_by=customer");
    expect(status).toBe(200);
    expect(json).toEqual([
      {
        group_by_day: "2024-05-10",
        customers: [
          {
            customer: "acme",
            total_spend: 3,
            metadata: [
              { model: "fast-model", api_key: alice, spend: 1, total_tokens: 11 },
              { model: "smart-model", api_key: alice, spend: 2, total_tokens: 22 },
            ],
          },
        ],
      },
      { group_by_day: "2024-05-11", customers: [{ customer: "globex", total_spend: 8, metadata: [{ model: "fast-model", api_key: alice, spend: 8, total_tokens: 88 }] }] },
    ]);
  });

  it("/global/spend/report groups by api key and by model", async () => {
    const range = "start_date=2024-05-10&end_date=2024-05-12";
    expect((await admin(baseUrl, "GET", `/global/spend/report?${range}&group_by=api_key`)).json).toEqual([
      {
        api_key: bob,
        total_cost: 20,
        total_input_tokens: 200,
        total_output_tokens: 20,
        model_details: [{ model: "fast-model", total_cost: 20, total_input_tokens: 200, total_output_tokens: 20 }],
      },
      {
        api_key: alice,
        total_cost: 11,
        total_input_tokens: 110,
        total_output_tokens: 11,
        model_details: [
          { model: "fast-model", total_cost: 9, total_input_tokens: 90, total_output_tokens: 9 },
          { model: "smart-model", total_cost: 2, total_input_tokens: 20, total_output_tokens: 2 },
        ],
      },
    ]);
    expect((await admin(baseUrl, "GET", `/global/spend/report?${range}&group_by=model`)).json).toEqual([
      {
        model: "fast-model",
        total_cost: 29,
        total_input_tokens: 290,
        total_output_tokens: 29,
        api_key_details: [
          { api_key: bob, total_cost: 20, total_input_tokens: 200, total_output_tokens: 20 },
          { api_key: alice, total_cost: 9, total_input_tokens: 90, total_output_tokens: 9 },
        ],
      },
      {
        model: "smart-model",
        total_cost: 2,
        total_input_tokens: 20,
        total_output_tokens: 2,
        api_key_details: [{ api_key: alice, total_cost: 2, total_input_tokens: 20, total_output_tokens: 2 }],
      },
    ]);
  });

  it("/global/spend/report with api_key (the key or its hash) reports that key alone, per model", async () => {
    const range = "start_date=2024-05-10&end_date=2024-05-12";
    const aliceOnly = [
      {
        api_key: alice,
        total_cost: 11,
        total_input_tokens: 110,
        total_output_tokens: 11,
        model_details: [
          { model: "fast-model", total_cost: 9, total_input_tokens: 90, total_output_tokens: 9 },
          { model: "smart-model", total_cost: 2, total_input_tokens: 20, total_output_tokens: 2 },
        ],
      },
    ];
    expect((await admin(baseUrl, "GET", `/global/spend/report?${range}&api_key=${alice}`)).json).toEqual(aliceOnly);
    expect((await admin(baseUrl, "GET", `/global/spend/report?${range}&group_by=team&api_key=${alice}`)).json).toEqual(aliceOnly);
    expect((await admin(baseUrl, "GET", `/global/spend/report?${range}&api_key=sk-no-such-key-0123456789`)).json).toEqual([]);
  });

  it("/global/spend/report refuses a missing date or an unknown grouping", async () => {
    expect((await admin(baseUrl, "GET", "/global/spend/report?start_date=2024-05-10&group_by=team")).status).toBe(400);
    expect((await admin(baseUrl, "GET", "/global/spend/report?end_date=2024-05-10&group_by=customer")).status).toBe(400);
    const unknown = await admin<{ error: { message: string } }>(baseUrl, "GET", "/global/spend/report?start_date=2024-05-10&end_date=2024-05-11&group_by=region");
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toBe("group_by must be one of team, api_key, model, customer: region");
  });

  it("/global/spend/keys and /global/spend/models rank by spend", async () => {
    const range = "start_date=2024-05-01&end_date=2024-05-31";
    expect((await admin(baseUrl, "GET", `/global/spend/keys?${range}`)).json).toEqual([
      { api_key: bob, key_alias: null, key_name: null, total_spend: 20 },
      { api_key: alice, key_alias: "alice-key", key_name: null, total_spend: 11 },
    ]);
    expect((await admin(baseUrl, "GET", `/global/spend/keys?${range}&limit=1`)).json).toHaveLength(1);
    expect((await admin(baseUrl, "GET", `/global/spend/models?${range}`)).json).toEqual([
      { model: "fast-model", total_spend: 29, total_tokens: 319 },
      { model: "smart-model", total_spend: 2, total_tokens: 22 },
    ]);
  });

  it("counts a request served today in the last-30-days lists, and needs the master key", async () => {
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "count me" }] });
    const models = await eventually("today's request in /global/spend/models", async () => {
      const { json } = await admin<{ model: string; total_spend: number }[]>(baseUrl, "GET", "/global/spend/models");
      return json.length > 0 ? json : undefined;
    });
    expect(models.map((m) => m.model)).toEqual(["fast-model"]);
    expect(models[0]!.total_spend).toBeGreaterThan(0);
    const res = await fetch(`${baseUrl}/global/spend/keys`, { headers: { authorization: "Bearer sk-not-a-key" } });
    expect(res.status).toBe(401);
  });
});
