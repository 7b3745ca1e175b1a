import { describe, expect, it } from "vitest";
import type { Json } from "../src/providers/provider.js";
import { toGeminiRequest } from "../src/translate/gemini-request.js";
import { chunksFromGemini, fromGeminiResponse } from "../src/translate/gemini-response.js";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* events(...list: Json[]): AsyncGenerator<Json> {
  for (const event of list) yield event;
}

describe("OpenAI chat request to Gemini generateContent", () => {
  it("maps generation settings and JSON mode", () => {
    const request = toGeminiRequest({
      messages: [{ role: "user", content: "hi" }],
      n: 2,
      seed: 4,
      top_p: 0.5,
      stop: "END",
      presence_penalty: 0.1,
      response_format: { type: "json_schema", json_schema: { name: "r", schema: { type: "object" } } },
    }, "gemini-2.5-flash");
    expect(request["generationConfig"]).toEqual({
      candidateCount: 2,
      seed: 4,
      topP: 0.5,
      presencePenalty: 0.1,
      stopSequences: ["END"],
      responseMimeType: "application/json",
      responseJsonSchema: { type: "object" },
    });
  });

  it("turns reasoning_effort none into no thinking, or into 2.5 Pro's least, as it cannot stop thinking", () => {
    const config = (model: string) => toGeminiRequest({ reasoning_effort: "none", messages: [{ role: "user", content: "hi" }] }, model)["generationConfig"];
    expect(config("gemini-2.5-flash")).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    expect(config("gemini-2.5-pro")).toEqual({ thinkingConfig: { thinkingBudget: 128 } });
  });

  it("leaves out empty text parts, which Gemini refuses", () => {
    const request = toGeminiRequest({ messages: [{ role: "user", content: [{ type: "text", text: "" }, { type: "text", text: "hi" }] }] }, "gemini-2.5-flash");
    expect(request["contents"]).toEqual([{ role: "user", parts: [{ text: "hi" }] }]);
  });

  it("sends tool results in the order of the calls they answer, as Gemini pairs them by position", () => {
    const call = (id: string, city: string) => ({ id, type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city }) } });
    const request = toGeminiRequest(
      {
        messages: [
          { role: "user", content: "weather in Paris, Rome and Oslo" },
          { role: "assistant", content: null, tool_calls: [call("call_P", "Paris"), call("call_R", "Rome"), call("call_O", "Oslo")] },
          { role: "tool", tool_call_id: "call_R", content: "Rome: 30C" },
          { role: "tool", tool_call_id: "call_O", content: "Oslo: 2C" },
          { role: "tool", tool_call_id: "call_P", content: "Paris: 10C" },
          { role: "user", content: "and tomorrow?" },
        ],
      },
      "gemini-2.5-flash",
    );
    const answers = (request["contents"] as Json[])[2]!["parts"] as Json[];
    expect(answers).toEqual([
      { functionResponse: { name: "get_weather", response: { content: "Paris: 10C" } } },
      { functionResponse: { name: "get_weather", response: { content: "Rome: 30C" } } },
      { functionResponse: { name: "get_weather", response: { content: "Oslo: 2C" } } },
      { text: "and tomorrow?" },
    ]);
  });

  it("puts a tool result's text parts on separate lines", () => {
    const request = toGeminiRequest(
      {
        messages: [
          { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "read", arguments: "{}" } }] },
          { role: "tool", tool_call_id: "c1", content: [{ type: "text", text: "line one" }, { type: "text", text: "line two" }] },
        ],
      },
      "gemini-2.5-flash",
    );
    expect((request["contents"] as Json[])[1]!["parts"]).toEqual([{ functionResponse: { name: "read", response: { content: "line one\nline two" } } }]);
  });

  it("refuses what Gemini cannot take: a tool result with no call, an image by URL", () => {
    expect(() => toGeminiRequest({ messages: [{ role: "tool", tool_call_id: "x", content: "1" }] }, "gemini-2.5-flash")).toThrow(/tool_call_id/);
    const byUrl = { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://x/cat.png" } }] }] };
    expect(() => toGeminiRequest(byUrl, "gemini-2.5-flash")).toThrow(/data: URLs/);
    // JSON can make an object whose toString is not a function; String() of it threw a TypeError, a 500.
    const junk = JSON.parse('{"toString":1}') as Json;
    expect(() => toGeminiRequest({ messages: [{ role: "user", content: [{ type: junk }] }] }, "gemini-2.5-flash")).toThrow('"{"toString":1}"');
    expect(() => toGeminiRequest({ messages: [{ role: junk, content: "hi" }] }, "gemini-2.5-flash")).toThrow('"{"toString":1}"');
  });
});

describe("Gemini responses to OpenAI", () => {
  it("answers a blocked prompt as a content_filter finish", () => {
    const { response } = fromGeminiResponse({ promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 3 } }, "gemini-x");
    expect(response["choices"]).toEqual([{ index: 0, message: { role: "assistant", content: "" }, logprobs: null, finish_reason: "content_filter" }]);
  });

  it("numbers streamed function calls and takes the last usageMetadata", async () => {
    const chunks = (
      await collect(
        chunksFromGemini(
          events(
            { candidates: [{ content: { parts: [{ text: "Hi" }] } }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1 } },
            {
              candidates: [{ content: { parts: [{ functionCall: { name: "a", args: {} } }, { functionCall: { name: "b", args: { x: 1 } } }] }, finishReason: "STOP" }],
              usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 9, thoughtsTokenCount: 2, cachedContentTokenCount: 4 },
            },
          ),
          "gemini-x",
        ),
      )
    ).map((c) => c.json);
    const calls = chunks.flatMap((c) => ((c["choices"] as { delta: Json }[])[0]?.delta["tool_calls"] as Json[] | undefined) ?? []);
    expect(calls.map((c) => [c["index"], (c["function"] as Json)["name"], (c["function"] as Json)["arguments"]])).toEqual([
      [0, "a", "{}"],
      [1, "b", '{"x":1}'],
    ]);
    expect((chunks.at(-2)!["choices"] as Json[])[0]).toMatchObject({ finish_reason: "tool_calls" });
    expect(chunks.at(-1)!["usage"]).toMatchObject({ prompt_tokens: 5, completion_tokens: 11, prompt_tokens_details: { cached_tokens: 4 } });
  });

  it("carries a call's thought signature in its id, and sends it back with the call", () => {
    // Base64 with "+", "/" and "=", none of which an id may hold.
    const signature = Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0x01]).toString("base64");
    const { response } = fromGeminiResponse(
      { candidates: [{ content: { parts: [{ functionCall: { name: "a", args: {} }, thoughtSignature: signature }, { functionCall: { name: "b", args: {} } }] } }] },
      "gemini-3-flash",
    );
    const message = (response["choices"] as { message: Json }[])[0]!.message;
    const [signed, unsigned] = message["tool_calls"] as { id: string }[];
    expect(signed!.id).toMatch(/^[A-Za-z0-9_-]+$/);
    const replay = (model: string, calls: Json[]) =>
      (toGeminiRequest({ messages: [{ role: "user", content: "go" }, { role: "assistant", content: null, tool_calls: calls }] }, model)["contents"] as Json[])[1];
    // As Gemini made them: the first call signed, the parallel one not.
    expect(replay("gemini-3-flash", [signed!, unsigned!])).toEqual({
      role: "model",
      parts: [
        { functionCall: { name: "a", args: {} }, thoughtSignature: signature },
        { functionCall: { name: "b", args: {} } },
      ],
    });
    // A call whose signature is lost, or that another model made: Google's stand-in where one is required, nothing elsewhere.
    const foreign = { id: "toolu_1", type: "function", function: { name: "a", arguments: "{}" } };
    expect(replay("gemini-3-flash", [foreign])).toMatchObject({ parts: [{ thoughtSignature: "skip_thought_signature_validator" }] });
    expect(replay("gemini-2.5-flash", [foreign])).toEqual({ role: "model", parts: [{ functionCall: { name: "a", args: {} } }] });
  });

  it("reports a stream that ends before any candidate finished as broken", async () => {
    await expect(collect(chunksFromGemini(events({ candidates: [{ content: { parts: [{ text: "Hi" }] } }] }), "gemini-x"))).rejects.toMatchObject({
      status: 502,
    });
  });
});
