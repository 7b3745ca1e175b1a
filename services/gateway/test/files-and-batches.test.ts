import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI, { toFile } from "openai";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// OpenAI's Files and Batch APIs through the gateway with the official
// client, in one process and split: files kept on a deployment of the model
// group named at upload, ids bound to that deployment and to the caller's
// team, batch requests rewritten to the deployment's model, and a finished
// batch's cost booked once, however many reads find it finished at once.
function filesConfig(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: batch-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: azure-batch
    litellm_params: { model: azure/team-4o-mini, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { base_model: azure/gpt-4o-mini }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** A batch input file: one chat request per prompt, naming `model`. */
function jsonl(model: string, prompts: string[]): string {
  return prompts
    .map((prompt, i) => JSON.stringify({ custom_id: `r${i}`, method: "POST", url: "/v1/chat/completions", body: { model, messages: [{ role: "user", content: prompt }] } }))
    .join("\n");
}

const asFile = (text: string) => toFile(Buffer.from(text), "requests.jsonl", { type: "application/jsonl" });

const clientFor = (gateway: ModeGateway, key: string) => new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key, maxRetries: 0 });

async function teamKey(gateway: ModeGateway, teamId: string): Promise<GeneratedKey> {
  return (await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { team_id: teamId })).json;
}

/** What a batch's output file says its requests used. */
function outputUsage(text: string): { prompt: number; completion: number } {
  const used = { prompt: 0, completion: 0 };
  for (const line of text.split("\n").filter(Boolean)) {
    const usage = (JSON.parse(line) as { response: { body: { usage: { prompt_tokens: number; completion_tokens: number } } } }).response.body.usage;
    used.prompt += usage.prompt_tokens;
    used.completion += usage.completion_tokens;
  }
  return used;
}

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`files and batches, ${mode.name}`, () => {
    let provider: FakeProvider;
    let gateway: ModeGateway;
    let master: OpenAI;
    fakeBehindGatewayPerTest(mode, filesConfig, (setup) => ({ provider, gateway, openai: master } = setup));

    it("runs a batch on the file's deployment and books its cost once, whoever of the team reads it finished", async () => {
      await admin(gateway.baseUrl, "POST", "/team/new", { team_id: "batchers", models: ["batch-model"] });
      await admin(gateway.baseUrl, "POST", "/team/new", { team_id: "others", models: ["batch-model"] });
      const [alice, bob, eve] = await Promise.all([teamKey(gateway, "batchers"), teamKey(gateway, "batchers"), teamKey(gateway, "others")]);
      const asAlice = clientFor(gateway, alice!.key);
      const asBob = clientFor(gateway, bob!.key);
      const asEve = clientFor(gateway, eve!.key);

      const file = await asAlice.files.create({ file: await asFile(jsonl("batch-model", ["one two three", "four five"])), purpose: "batch" }, { headers: { "x-litellm-model": "batch-model" } });
      expect(file.id).toMatch(/^file-/);
      const upload = provider.requests.find((r) => r.method === "POST" && r.path === "/v1/files")!;
      expect(upload.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
      // The provider's id stays with the gateway.
      const providerFiles = (await (await fetch(`${provider.url}/v1/files`, { headers: { authorization: `Bearer ${PROVIDER_KEY}` } })).json()) as { data: { id: string }[] };
      expect(providerFiles.data.map((f) => f.id)).not.toContain(file.id);
      // The requests go to the provider naming the deployment's model.
      const sent = await (await asBob.files.content(file.id)).text();
      expect(sent.split("\n").map((line) => (JSON.parse(line) as { body: { model: string } }).body.model)).toEqual(["gpt-4o-mini", "gpt-4o-mini"]);

      provider.behavior.batchDelayMs = 300;
      const batch = await asAlice.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      expect(batch).toMatchObject({ status: "in_progress", input_file_id: file.id });
      expect(batch.id).toMatch(/^batch_/);

      // Another team's key finds neither.
      await expect(asEve.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
      await expect(asEve.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });

      const done = await eventually("the batch to finish", async () => {
        const read = await asBob.batches.retrieve(batch.id);
        return read.status === "completed" ? read : undefined;
      });
      // Read finished by many calls at once, on both keys of the team.
      const reads = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? asAlice : asBob).batches.retrieve(batch.id).withResponse()));
      for (const { data } of reads) expect(data).toMatchObject({ id: batch.id, status: "completed", output_file_id: done.output_file_id });
      const output = await (await asAlice.files.content(done.output_file_id!)).text();
      const used = outputUsage(output);
      expect(used.prompt).toBeGreaterThan(0);

      // One ledger row carries the batch's tokens, at half gpt-4o-mini's $0.15 / $0.60 per million.
      const expected = ((used.prompt * 0.15 + used.completion * 0.6) / 1e6) * 0.5;
      await eventually("the batch's cost in the ledger, once", async () => {
        const res = await fetch(`${gateway.baseUrl}/spend/logs?summarize=false`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
        const rows = ((await res.json()) as { call_type: string; spend: number; prompt_tokens: number; completion_tokens: number; api_key: string }[]).filter((r) => r.call_type.includes("batch"));
        const booked = rows.filter((r) => r.spend > 0);
        if (booked.length !== 1 || rows.length < 10) return undefined;
        expect(booked[0]).toMatchObject({ prompt_tokens: used.prompt, completion_tokens: used.completion });
        expect(booked[0]!.spend).toBeCloseTo(expected, 12);
        expect([alice!.token, bob!.token]).toContain(booked[0]!.api_key);
        return true;
      });
      // The booking's claim is confirmed: no sweep books it again.
      const sql = postgres(gateway.databaseUrl!, { max: 1, onnotice: () => {} });
      try {
        const claims = await eventually("the booking's claim to be confirmed", async () => {
          const rows = await sql<{ booked: boolean; recovery: unknown }[]>`SELECT booked, recovery FROM router.booked_batches`;
          return rows.every((r) => r.booked) ? rows : undefined;
        });
        expect(claims).toEqual([{ booked: true, recovery: null }]);
      } finally {
        await sql.end();
      }
      // And the team's keys' spend holds it, once.
      await eventually("the keys' spend to hold the batch's cost", async () => {
        const spends = await Promise.all([alice!, bob!].map(async ({ key }) => (await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${key}`)).json.info.spend));
        return Math.abs(spends[0]! + spends[1]! - expected) < 1e-12 ? true : undefined;
      });
    });

    it("reserves nothing up front, so a key near its budget runs a batch, and refuses one past it", async () => {
      // Less than any chat request would reserve, as a budget all but used up.
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["batch-model"], max_budget: 1e-9 });
      const asKey = clientFor(gateway, key.key);
      await expect(asKey.chat.completions.create({ model: "batch-model", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ status: 400 });
      const file = await asKey.files.create({ file: await asFile(jsonl("batch-model", ["a few words here"])), purpose: "batch", model: "batch-model" } as OpenAI.FileCreateParams);
      // Finished at once, so its creation books it, past the budget.
      const batch = await asKey.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      expect(batch.status).toBe("completed");
      await eventually("the batch's cost to pass the key's budget", async () => {
        const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${key.key}`);
        return json.info.spend > 1e-9 ? true : undefined;
      });
      await expect(asKey.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/budget/i) });
    });

    it("counts a batch's sums past 2^32 against the key's tpm whole", async () => {
      // Sixteen requests of 2^28 prompt tokens (the most a provider's count
      // is taken as) sum to 2^32, which the uint32s between split services
      // carried as 0: the key's tokens-per-minute saw only the completions.
      provider.behavior.promptTokens = 2 ** 28;
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["batch-model"], tpm_limit: 1_000_000 });
      const asKey = clientFor(gateway, key.key);
      const file = await asKey.files.create({ file: await asFile(jsonl("batch-model", Array.from({ length: 16 }, (_, i) => `request ${i}`))), purpose: "batch", model: "batch-model" } as OpenAI.FileCreateParams);
      // The window is a minute's: begun near its end, the batch's tokens could land in one the check does not ask.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute));
      // Finished at once, so its creation books it.
      expect((await asKey.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).status).toBe("completed");
      // The probes' own counts are their prompts'.
      delete provider.behavior.promptTokens;
      await eventually("the key's tpm to be used up", async () => {
        const refused = await asKey.chat.completions.create({ model: "batch-model", messages: [{ role: "user", content: "hi" }] }).then(
          () => undefined,
          (err: { status?: number; message?: string }) => err,
        );
        if (!refused) return undefined;
        expect(refused).toMatchObject({ status: 429, message: expect.stringMatching(/tpm limit \(1000000\)/) });
        return true;
      });
    });

    it("keeps a file on an Azure deployment at Azure's path, and lists, deletes and cancels", async () => {
      const file = await master.files.create({ file: await asFile(jsonl("azure-batch", ["hello"])), purpose: "batch", model: "azure-batch" } as OpenAI.FileCreateParams);
      expect(provider.requests.at(-1)).toMatchObject({ method: "POST", path: "/openai/files", headers: { "api-key": PROVIDER_KEY } });
      expect(provider.requests.at(-1)!.query["api-version"]).toBeTruthy();

      provider.behavior.batchDelayMs = 60_000;
      const batch = await master.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      expect(provider.requests.at(-1)).toMatchObject({ method: "POST", path: "/openai/batches" });
      const files = await master.files.list({ model: "azure-batch" } as OpenAI.FileListParams);
      expect(files.data.map((f) => f.id)).toContain(file.id);
      const batches = await master.batches.list({ model: "azure-batch" } as OpenAI.BatchListParams);
      expect(batches.data.map((b) => b.id)).toContain(batch.id);
      expect((await master.batches.cancel(batch.id)).status).toBe("cancelled");

      expect(await master.files.delete(file.id)).toMatchObject({ id: file.id, deleted: true });
      await expect(master.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    });

    it("takes a key that reads everything to list, and refuses what it cannot run with OpenAI-style errors", async () => {
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["batch-model"] });
      const asKey = clientFor(gateway, key.key);
      await expect(asKey.files.list({ model: "batch-model" } as OpenAI.FileListParams)).rejects.toMatchObject({ status: 401 });

      const upload = async (model: string | undefined, text = jsonl("batch-model", ["x"])) =>
        asKey.files.create({ file: await asFile(text), purpose: "batch", ...(model && { model }) } as OpenAI.FileCreateParams);
      const cases: [() => Promise<unknown>, number, RegExp][] = [
        [() => upload(undefined), 400, /model is required/],
        [async () => master.files.create({ file: await asFile("{}"), purpose: "batch", model: "no-such-model" } as OpenAI.FileCreateParams), 400, /Invalid model name passed in model=no-such-model/],
        [async () => master.files.create({ file: await asFile("{}"), purpose: "batch", model: "claude" } as OpenAI.FileCreateParams), 400, /no deployment that keeps files/],
        [() => upload("claude"), 401, /may not use model=claude/],
        [() => upload("batch-model", jsonl("claude", ["x"])), 400, /line 1 of the batch file names model claude/],
        [() => asKey.batches.create({ input_file_id: "file-abc", endpoint: "/v1/chat/completions", completion_window: "24h" }), 404, /No such File object: file-abc/],
        [() => asKey.batches.retrieve("batch_forged"), 404, /No such Batch object: batch_forged/],
        // A bad key hears of its key first.
        [() => clientFor(gateway, "sk-not-a-key").batches.retrieve("batch_forged"), 401, /./],
      ];
      for (const [call, status, message] of cases) {
        const err = (await call().then(() => undefined, (e: unknown) => e)) as { status: number; message: string } | undefined;
        expect(err?.status, String(message)).toBe(status);
        expect(err?.message).toMatch(message);
      }
      // The key's own file is its own.
      const mine = await upload("batch-model");
      expect((await asKey.files.retrieve(mine.id)).id).toBe(mine.id);
      await expect(master.files.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    });
  });
}
