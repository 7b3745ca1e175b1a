import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: "azure-key" } });
});

afterEach(async () => {
  await provider.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = { "api-key": "azure-key" }): Promise<Response> {
  return fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

const chat = "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21";

describe("azure openai", () => {
  it("answers chat at the deployment's URL, naming the deployment as the model", async () => {
    const res = await post(chat, { messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ model: "my-gpt", choices: [{ message: { content: "Echo: hi" } }] });
    expect(provider.requests[0]).toMatchObject({ path: "/openai/deployments/my-gpt/chat/completions", query: { "api-version": "2024-10-21" } });
  });

  it("answers embeddings at the deployment's URL", async () => {
    const res = await post("/openai/deployments/emb/embeddings?api-version=2024-10-21", { input: "x" });
    expect(await res.json()).toMatchObject({ model: "emb", data: [{ index: 0 }] });
  });

  it("wants the api-key header (not a bearer token) and an api-version", async () => {
    expect((await post(chat, { messages: [{ role: "user", content: "hi" }] }, { authorization: "Bearer azure-key" })).status).toBe(401);
    expect((await post("/openai/deployments/my-gpt/chat/completions", { messages: [{ role: "user", content: "hi" }] })).status).toBe(404);
  });
});
