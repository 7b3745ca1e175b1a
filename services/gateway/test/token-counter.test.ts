import { describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's POST /utils/token_counter: a request's input tokens, estimated as
// the gateway estimates them, and the model its group's deployment calls.

describe("POST /utils/token_counter", () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(MODES[0]!, fakeOpenAIConfig, (setup) => ({ gateway } = setup));

  const count = async (body: unknown, key = MASTER_KEY) => {
    const res = await fetch(`${gateway.baseUrl}/utils/token_counter`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error: { message: string; type: string; param: string } } };
  };

  it("counts a chat request's messages, or a prompt, for any key, naming the deployment's model", async () => {
    const { json: key } = await admin<{ key: string }>(gateway.baseUrl, "POST", "/key/generate", {});
    // 44 characters: 11 tokens at four characters a token.
    const messages = [{ role: "user", content: "How many tokens will this question be?" }, { role: "user", content: [{ type: "text", text: "Well?!" }] }];
    const counted = await count({ model: "fast-model", messages }, key.key);
    expect(counted).toEqual({ status: 200, json: { total_tokens: 11, request_model: "fast-model", model_used: "openai/gpt-4o-mini", tokenizer_type: "character_estimate" } });
    // A model no group has stands for itself.
    expect((await count({ model: "gpt-4o", prompt: "four" })).json).toMatchObject({ total_tokens: 1, model_used: "gpt-4o" });
    // A prompt over the management routes' 1 MB limit, as a chat request may carry, is counted.
    expect((await count({ model: "fast-model", prompt: "abcd".repeat(500_000) })).json).toMatchObject({ total_tokens: 500_000 });
  });

  it("answers a request it cannot count with an OpenAI-style 400, a bad key with 401", async () => {
    for (const [body, param] of [
      [{ messages: [] }, "model"],
      [{ model: "fast-model" }, "messages"],
      [{ model: "fast-model", prompt: 4 }, "messages"],
    ] as const) {
      const { status, json } = await count(body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.error).toMatchObject({ type: "invalid_request_error", param });
    }
    expect((await count({ model: "fast-model", prompt: "hi" }, "sk-not-a-key")).status).toBe(401);
    // The key is checked before the body: a bad key with a body it cannot count is a 401 too.
    expect((await count({ model: "fast-model" }, "sk-not-a-key")).status).toBe(401);
    const key = (await admin<{ key: string }>(gateway.baseUrl, "POST", "/key/generate", { allowed_routes: ["/chat/completions"] })).json.key;
    expect((await count({ model: "fast-model", prompt: "hi" }, key)).status).toBe(403);
  });
});
