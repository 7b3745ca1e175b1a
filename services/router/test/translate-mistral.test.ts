import { describe, expect, it } from "vitest";
import type { ChatChunk, Json } from "../src/providers/provider.js";
import { mistralCallId, toMistralRequest } from "../src/translate/mistral-request.js";
import { fromMistralChunks, normalizeMistralAnswer } from "../src/translate/mistral-response.js";

async function collect(chunks: AsyncIterable<ChatChunk>): Promise<Json[]> {
  const out: Json[] = [];
  for await (const chunk of chunks) out.push(JSON.parse(chunk.data ?? JSON.stringify(chunk.json)) as Json);
  return out;
}

async function* chunks(...list: Json[]): AsyncGenerator<ChatChunk> {
  for (const json of list) yield { json, data: JSON.stringify(json) };
}

const thinking = (text: string) => ({ type: "thinking", thinking: [{ type: "text", text }] });

describe("OpenAI chat request to Mistral", () => {
  it("renames what Mistral names otherwise and leaves out what it refuses", () => {
    const request = toMistralRequest(
      {
        model: "fast",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 10,
        max_completion_tokens: 20,
        seed: 7,
        tool_choice: "required",
        temperature: 0.2,
      },
      "mistral-small-latest",
      true,
    );
    expect(request).toEqual({
      model: "mistral-small-latest",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 20,
      random_seed: 7,
      tool_choice: "any",
      temperature: 0.2,
    });
  });

  it("keeps max_tokens alone, Mistral's own random_seed over seed, and a named tool choice", () => {
    const choice = { type: "function", function: { name: "get_weather" } };
    const request = toMistralRequest({ messages: [], max_tokens: 5, seed: 1, random_seed: 2, tool_choice: choice }, "m", false);
    expect(request).toMatchObject({ max_tokens: 5, random_seed: 2, tool_choice: choice, stream: false });
    expect(request).not.toHaveProperty("seed");
  });

  it("fits messages to what Mistral takes", () => {
    const request = toMistralRequest(
      {
        messages: [
          { role: "developer", content: "Be brief." },
          { role: "user", content: "weather?", name: "ann" },
          { role: "assistant", content: null, refusal: null, tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "w", arguments: "{}" } }] },
          { role: "tool", tool_call_id: "c1", name: "w", content: "sunny" },
          { role: "tool", tool_call_id: "c1", name: " ", content: "again" },
          { role: "assistant", content: "" },
          { role: "assistant", content: "Sunny.", tool_calls: [], audio: null },
          { role: "user", content: [{ type: "text", text: "thanks" }] },
        ],
      },
      "m",
      false,
    );
    const id = mistralCallId("c1");
    expect(id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(request["messages"]).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "weather?" },
      { role: "assistant", tool_calls: [{ id, type: "function", function: { name: "w", arguments: "{}" } }] },
      { role: "tool", tool_call_id: id, name: "w", content: "sunny" },
      { role: "tool", tool_call_id: id, content: "again" },
      { role: "assistant", content: "Sunny." },
      { role: "user", content: [{ type: "text", text: "thanks" }] },
    ]);
  });
});

describe("tool-call ids at Mistral", () => {
  it("keeps Mistral's own and turns any other into nine letters and digits, the same each time", () => {
    expect(mistralCallId("D681PevKs")).toBe("D681PevKs");
    const fromClaude = mistralCallId("toolu_01A09q90qw90lq917835lq9");
    expect(fromClaude).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(mistralCallId("toolu_01A09q90qw90lq917835lq9")).toBe(fromClaude);
    expect(mistralCallId("call_abc")).not.toBe(fromClaude);
  });
});

describe("Mistral answers as OpenAI's", () => {
  it("leaves a plain answer as it came", () => {
    const answer = { choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] };
    expect(normalizeMistralAnswer(answer)).toBe(false);
    expect(answer.choices[0]!.message.content).toBe("hi");
  });

  it("flattens a reasoning model's blocks into content and reasoning_content, and names model_length as length", () => {
    const answer: Json = {
      choices: [
        { index: 0, message: { role: "assistant", content: [thinking("Hmm. "), thinking("Right."), { type: "text", text: "Four." }] }, finish_reason: "model_length" },
      ],
    };
    expect(normalizeMistralAnswer(answer)).toBe(true);
    expect(answer["choices"]).toEqual([
      { index: 0, message: { role: "assistant", content: "Four.", reasoning_content: "Hmm. Right." }, finish_reason: "length" },
    ]);
  });

  it("moves a stream's usage from its last chunk to a chunk of its own, and flattens thinking deltas", async () => {
    const head = { id: "s1", object: "chat.completion.chunk", created: 5, model: "magistral-small" };
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const seen = await collect(
      fromMistralChunks(
        chunks(
          { ...head, choices: [{ index: 0, delta: { role: "assistant", content: [thinking("Let me see.")] }, finish_reason: null }] },
          { ...head, choices: [{ index: 0, delta: { content: "Yes" }, finish_reason: null }] },
          { ...head, choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }], usage },
        ),
      ),
    );
    expect(seen).toEqual([
      { ...head, choices: [{ index: 0, delta: { role: "assistant", content: null, reasoning_content: "Let me see." }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: "Yes" }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }] },
      { ...head, choices: [], usage },
    ]);
  });

  it("passes an unchanged chunk on with the provider's own text", async () => {
    expect.assertions(1);
    const json = { id: "s", choices: [{ index: 0, delta: { content: "x" } }] };
    for await (const chunk of fromMistralChunks(chunks(json))) expect(chunk.data).toBe(JSON.stringify(json));
  });
});
