import OpenAI, { AzureOpenAI, toFile } from "openai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;
let client: OpenAI;

beforeEach(async () => {
  provider = await startFakeProvider();
  client = new OpenAI({ baseURL: `${provider.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
});

afterEach(async () => {
  await provider.close();
});

const messages = [{ role: "user" as const, content: "hello there world" }];
const chatBody = { model: "gpt-test", messages };

function line(customId: string, body: object, url = "/v1/chat/completions"): object {
  return { custom_id: customId, method: "POST", url, body };
}

function jsonl(lines: object[]): string {
  return lines.map((entry) => `${JSON.stringify(entry)}\n`).join("");
}

async function upload(text: string, purpose: OpenAI.FilePurpose = "batch", name = "input.jsonl", on: OpenAI = client): Promise<OpenAI.FileObject> {
  return on.files.create({ file: await toFile(Buffer.from(text), name), purpose });
}

/** A batch over these lines, for the chat endpoint unless told otherwise. */
async function runBatch(lines: object[], endpoint: OpenAI.BatchCreateParams["endpoint"] = "/v1/chat/completions"): Promise<OpenAI.Batch> {
  const input = await upload(jsonl(lines));
  return client.batches.create({ input_file_id: input.id, endpoint, completion_window: "24h" });
}

/** A file's JSONL lines, parsed; output lines are checked field by field, so loose typing is enough. */
async function linesOf(fileId: string, on: OpenAI = client): Promise<any[]> {
  const text = await (await on.files.content(fileId)).text();
  return text
    .split("\n")
    .filter((entry) => entry !== "")
    .map((entry) => JSON.parse(entry));
}

/** Collects every item of a list, page after page, as the client's cursor follows `after`. */
async function allIds(pages: AsyncIterable<{ id: string }>): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of pages) ids.push(item.id);
  return ids;
}

describe("files", () => {
  it("keeps an upload's name, purpose and bytes, and answers it by id and as its content", async () => {
    const text = jsonl([line("a", chatBody)]);
    const before = Math.floor(Date.now() / 1000);
    const file = await upload(text, "batch", "requests.jsonl");
    expect(file).toEqual({
      id: expect.stringMatching(/^file-/),
      object: "file",
      bytes: Buffer.byteLength(text),
      created_at: expect.any(Number),
      filename: "requests.jsonl",
      purpose: "batch",
      status: "processed",
      status_details: null,
      expires_at: null,
    });
    expect(file.created_at).toBeGreaterThanOrEqual(before);
    expect(await client.files.retrieve(file.id)).toEqual(file);
    const content = await client.files.content(file.id);
    expect(content.headers.get("content-type")).toBe("application/octet-stream");
    expect(await content.text()).toBe(text);
    // Without the /v1 prefix too.
    expect(await (await fetch(`${provider.url}/files/${file.id}`, { headers: { authorization: "Bearer sk-test" } })).json()).toEqual(file);
    // The multipart upload is recorded without a body, as other uploads are.
    expect(provider.requests[0]).toMatchObject({ method: "POST", path: "/v1/files", body: undefined });
  });

  it("lists files newest first, by purpose, a page at a time", async () => {
    const first = await upload("{}\n", "batch");
    const second = await upload("{}\n", "user_data");
    const third = await upload("{}\n", "batch");

    const listed = await client.files.list();
    expect(listed.data.map((file) => file.id)).toEqual([third.id, second.id, first.id]);
    expect((await client.files.list({ purpose: "batch" })).data.map((file) => file.id)).toEqual([third.id, first.id]);

    const page = await client.files.list({ limit: 2 });
    expect(page.data.map((file) => file.id)).toEqual([third.id, second.id]);
    expect(page.has_more).toBe(true);
    expect(await allIds(client.files.list({ limit: 1 }))).toEqual([third.id, second.id, first.id]);
  });

  it("deletes a file, which is then not found", async () => {
    const file = await upload("{}\n");
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
    const notFound = { status: 404, error: { message: `No such File object: ${file.id}`, type: "invalid_request_error", param: "id", code: null } };
    await expect(client.files.retrieve(file.id)).rejects.toMatchObject(notFound);
    await expect(client.files.content(file.id)).rejects.toMatchObject(notFound);
    await expect(client.files.delete(file.id)).rejects.toMatchObject(notFound);
    expect((await client.files.list()).data).toEqual([]);
  });

  it("refuses an upload with an unknown purpose or without a file", async () => {
    await expect(upload("{}\n", "pictures" as OpenAI.FilePurpose)).rejects.toMatchObject({ status: 400, param: "purpose" });
    const form = new FormData();
    form.set("purpose", "batch");
    const res = await fetch(`${provider.url}/v1/files`, { method: "POST", headers: { authorization: "Bearer sk-test" }, body: form });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: "file" } });
  });
});

describe("batches", () => {
  it("completes at once without a delay, each output line what the endpoint itself answers", async () => {
    const input = await upload(jsonl([line("first", chatBody), line("second", { model: "gpt-test", messages: [{ role: "user", content: "one two" }], max_tokens: 2 })]));
    const batch = await client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "nightly" } });
    expect(batch).toMatchObject({
      id: expect.stringMatching(/^batch_/),
      object: "batch",
      endpoint: "/v1/chat/completions",
      errors: null,
      input_file_id: input.id,
      completion_window: "24h",
      status: "completed",
      output_file_id: expect.stringMatching(/^file-/),
      error_file_id: null,
      in_progress_at: batch.created_at,
      expires_at: batch.created_at + 86_400,
      failed_at: null,
      cancelled_at: null,
      request_counts: { total: 2, completed: 2, failed: 0 },
      metadata: { job: "nightly" },
    });
    expect(batch.completed_at).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.finalizing_at).toBe(batch.completed_at);
    expect(await client.batches.retrieve(batch.id)).toEqual(batch);

    const output = await client.files.retrieve(batch.output_file_id!);
    expect(output).toMatchObject({ purpose: "batch_output", filename: `${batch.id}_output.jsonl` });
    const [first, second] = await linesOf(output.id);
    expect(first).toEqual({
      id: expect.stringMatching(/^batch_req_/),
      custom_id: "first",
      response: { status_code: 200, request_id: expect.stringMatching(/^req_/), body: expect.objectContaining({ object: "chat.completion" }) },
      error: null,
    });
    expect(second.custom_id).toBe("second");
    const direct = await client.chat.completions.create(chatBody);
    expect(first.response.body.usage).toEqual(direct.usage);
    expect(first.response.body.choices).toEqual(direct.choices);
    expect(second.response.body.choices[0]).toMatchObject({ message: { content: "Echo: one" }, finish_reason: "length" });
  });

  it.each([
    ["/v1/embeddings", { model: "emb", input: ["a b", "c"] }, (c: OpenAI) => c.embeddings.create({ model: "emb", input: ["a b", "c"] })],
    ["/v1/completions", { model: "davinci", prompt: "say it" }, (c: OpenAI) => c.completions.create({ model: "davinci", prompt: "say it" })],
    ["/v1/responses", { model: "gpt-test", input: "hi there" }, (c: OpenAI) => c.responses.create({ model: "gpt-test", input: "hi there" })],
  ] as const)("answers a %s batch as that endpoint does", async (endpoint, body, direct) => {
    const batch = await runBatch([line("only", body, endpoint)], endpoint);
    expect(batch.status).toBe("completed");
    const [only] = await linesOf(batch.output_file_id!);
    const answer: any = await direct(client);
    expect(only.response.status_code).toBe(200);
    expect(only.response.body.object).toBe(answer.object);
    expect(only.response.body.usage).toEqual(answer.usage);
  });

  it("stays in progress for batchDelayMs, then completes", async () => {
    provider.behavior.batchDelayMs = 150;
    const batch = await runBatch([line("a", chatBody)]);
    expect(batch).toMatchObject({ status: "in_progress", output_file_id: null, completed_at: null, request_counts: { total: 1, completed: 0, failed: 0 } });
    expect(batch.in_progress_at).toBe(batch.created_at);
    expect((await client.files.list({ purpose: "batch_output" })).data).toEqual([]);

    // Nothing runs in the background: each call looks at the clock, so a test polls.
    await vi.waitFor(async () => expect((await client.batches.retrieve(batch.id)).status).toBe("completed"), { timeout: 2_000, interval: 25 });
    const done = await client.batches.retrieve(batch.id);
    expect(done.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
    expect((await linesOf(done.output_file_id!))[0].response.body.choices[0].message.content).toBe("Echo: hello there world");
  });

  it("cancels a batch in progress, and refuses to cancel one that has ended", async () => {
    provider.behavior.batchDelayMs = 60_000;
    const running = await runBatch([line("a", chatBody)]);
    const cancelled = await client.batches.cancel(running.id);
    expect(cancelled).toMatchObject({ id: running.id, status: "cancelled", output_file_id: null, cancelling_at: expect.any(Number), cancelled_at: expect.any(Number) });
    expect((await client.batches.retrieve(running.id)).status).toBe("cancelled");
    await expect(client.batches.cancel(running.id)).rejects.toMatchObject({ status: 400, error: { message: "Cannot cancel a batch with status 'cancelled'.", param: null } });

    provider.behavior.batchDelayMs = 0;
    const completed = await runBatch([line("a", chatBody)]);
    await expect(client.batches.cancel(completed.id)).rejects.toMatchObject({ status: 400, error: { message: "Cannot cancel a batch with status 'completed'." } });
  });

  it("fails a batch whose input has bad lines, naming each line and field", async () => {
    const text = [
      JSON.stringify(line("ok", chatBody)),
      "",
      JSON.stringify(line("wrong-url", chatBody, "/v1/embeddings")),
      "{not json",
      JSON.stringify(line("ok", chatBody)),
      JSON.stringify(line("no-model", { messages })),
    ].join("\n");
    const input = await upload(text);
    const batch = await client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    expect(batch).toMatchObject({ status: "failed", failed_at: batch.created_at, in_progress_at: null, output_file_id: null, request_counts: { total: 0, completed: 0, failed: 0 } });
    expect(batch.errors).toEqual({
      object: "list",
      data: [
        { code: "invalid_request", message: expect.any(String), param: "url", line: 3 },
        { code: "invalid_request", message: expect.any(String), param: null, line: 4 },
        { code: "invalid_request", message: expect.any(String), param: "custom_id", line: 5 },
        { code: "invalid_request", message: expect.any(String), param: "body.model", line: 6 },
      ],
    });
    expect((await client.files.list({ purpose: "batch_output" })).data).toEqual([]);
  });

  it("puts the requests the endpoint refuses in an error file and counts them as failed", async () => {
    const noMessages = { model: "gpt-test", messages: [] };
    const oldLimit = { model: "o3", messages, max_tokens: 5 };
    const batch = await runBatch([line("good", chatBody), line("empty", noMessages), line("old-limit", oldLimit)]);
    expect(batch).toMatchObject({ status: "completed", request_counts: { total: 3, completed: 1, failed: 2 }, error_file_id: expect.stringMatching(/^file-/) });
    expect(await client.files.retrieve(batch.error_file_id!)).toMatchObject({ purpose: "batch_output", filename: `${batch.id}_error.jsonl` });
    expect((await linesOf(batch.output_file_id!)).map((entry) => entry.custom_id)).toEqual(["good"]);

    const errors = await linesOf(batch.error_file_id!);
    expect(errors.map((entry) => [entry.custom_id, entry.response.status_code])).toEqual([["empty", 400], ["old-limit", 400]]);
    for (const [entry, body] of [[errors[0], noMessages], [errors[1], oldLimit]] as const) {
      const direct = await fetch(`${provider.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(entry.response.body).toEqual(await direct.json());
    }
    expect(errors[1].response.body.error).toMatchObject({ param: "max_tokens", code: "unsupported_parameter" });
  });

  it("lists batches newest first, a page at a time", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.unshift((await runBatch([line("a", chatBody)])).id);
    const page = await client.batches.list({ limit: 2 });
    expect(page.data.map((batch) => batch.id)).toEqual(ids.slice(0, 2));
    expect(page.has_more).toBe(true);
    expect(await allIds(client.batches.list({ limit: 2 }))).toEqual(ids);
  });

  it("refuses bad parameters, unknown files and unknown batches", async () => {
    const input = await upload(jsonl([line("a", chatBody)]));
    const create = (fields: object) => client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h", ...fields } as OpenAI.BatchCreateParams);
    await expect(create({ endpoint: "/v1/moderations" })).rejects.toMatchObject({ status: 400, param: "endpoint" });
    await expect(create({ completion_window: "1h" })).rejects.toMatchObject({ status: 400, param: "completion_window" });
    await expect(create({ input_file_id: "file-missing" })).rejects.toMatchObject({ status: 404, error: { message: "No such File object: file-missing", type: "invalid_request_error", param: "input_file_id" } });
    await expect(client.batches.retrieve("batch_missing")).rejects.toMatchObject({ status: 404, error: { message: "No such Batch object: batch_missing", param: "id" } });
    await expect(client.batches.cancel("batch_missing")).rejects.toMatchObject({ status: 404 });
  });

  it("wants the API key, and takes injected failures like any other route", async () => {
    provider.behavior.requireApiKey = "sk-other";
    await expect(client.files.list()).rejects.toMatchObject({ status: 401 });
    await expect(client.batches.list()).rejects.toMatchObject({ status: 401 });

    provider.behavior.requireApiKey = "sk-test";
    provider.behavior.failNext = 1;
    await expect(client.batches.list()).rejects.toMatchObject({ status: 500 });
    expect((await client.batches.list()).data).toEqual([]);
  });
});

describe("azure files and batches", () => {
  const apiVersion = "2024-10-21";

  function azureClient(): AzureOpenAI {
    return new AzureOpenAI({ endpoint: provider.url, apiKey: "azure-key", apiVersion, maxRetries: 0 });
  }

  it("runs a batch under /openai, each line's model naming the deployment", async () => {
    provider.behavior.requireApiKey = "azure-key";
    const azure = azureClient();
    // Azure's documentation names the endpoint without /v1, so the fake takes both.
    const input = await upload(jsonl([line("a", { model: "my-gpt", messages }, "/chat/completions")]), "batch", "input.jsonl", azure);
    const batch = await azure.batches.create({ input_file_id: input.id, endpoint: "/chat/completions" as OpenAI.BatchCreateParams["endpoint"], completion_window: "24h" });
    expect(batch).toMatchObject({ status: "completed", request_counts: { total: 1, completed: 1, failed: 0 } });
    const [only] = await linesOf(batch.output_file_id!, azure);
    expect(only.response.body).toMatchObject({ model: "my-gpt", choices: [{ message: { content: "Echo: hello there world" } }] });
    expect((await azure.batches.list()).data.map((listed) => listed.id)).toEqual([batch.id]);
    expect(provider.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      "POST /openai/files",
      "POST /openai/batches",
      "GET /openai/files/" + batch.output_file_id + "/content",
      "GET /openai/batches",
    ]);
    expect(provider.requests.every((request) => request.query["api-version"] === apiVersion)).toBe(true);
  });

  it("wants the api-key header and an api-version", async () => {
    provider.behavior.requireApiKey = "azure-key";
    const get = (query: string, headers: Record<string, string>) => fetch(`${provider.url}/openai/batches${query}`, { headers });
    expect((await get(`?api-version=${apiVersion}`, { "api-key": "azure-key" })).status).toBe(200);
    expect((await get(`?api-version=${apiVersion}`, { authorization: "Bearer azure-key" })).status).toBe(401);
    expect((await get("", { "api-key": "azure-key" })).status).toBe(404);
  });
});
