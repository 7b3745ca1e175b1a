import { describe, expect, it } from "vitest";
import { toChatFromGenerateContent } from "../src/translate/generate-content-request.js";
import { geminiChunks, toGenerateContentResponse } from "../src/translate/generate-content-response.js";

// Gemini generateContent bodies as chat requests, and chat answers as Gemini's.

const usage = { promptTokens: 7, completionTokens: 3, cachedTokens: 2, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };

describe("a generateContent body as a chat request", () => {
  it("reads snake_case fields, media, schemas and a JSON response format", () => {
    const chat = toChatFromGenerateContent(
      {
        model: "group",
        system_instruction: { parts: [{ text: "Be " }, { text: "kind." }] },
        contents: [
          { role: "user", parts: [{ text: "look" }, { inline_data: { mime_type: "image/png", data: "AAA" } }, { inlineData: { mimeType: "application/pdf", data: "BBB" } }] },
          { role: "model", parts: [{ text: "thinking...", thought: true }, { text: "seen" }] },
        ],
        generation_config: {
          max_output_tokens: 20,
          topP: 0.5,
          candidateCount: 2,
          responseMimeType: "application/json",
          responseSchema: { type: "OBJECT", properties: { a: { type: "STRING", nullable: true }, b: { type: "ARRAY", items: { type: "INTEGER" } } }, propertyOrdering: ["a", "b"] },
        },
      },
      "openai",
      "gpt-4o",
    );
    expect(chat).toEqual({
      model: "group",
      messages: [
        { role: "system", content: "Be kind." },
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } },
            { type: "file", file: { file_data: "data:application/pdf;base64,BBB" } },
          ],
        },
        { role: "assistant", content: "seen" },
      ],
      max_tokens: 20,
      top_p: 0.5,
      n: 2,
      response_format: {
        type: "json_schema",
        json_schema: { name: "response", schema: { type: "object", properties: { a: { type: ["string", "null"] }, b: { type: "array", items: { type: "integer" } } } } },
      },
    });
  });

  it("asks an OpenAI reasoning model for max_completion_tokens, and maps NONE and AUTO tool modes", () => {
    const tools = [{ functionDeclarations: [{ name: "f", parametersJsonSchema: { type: "object" } }] }, { googleSearch: {} }];
    const none = toChatFromGenerateContent({ contents: [{ role: "user", parts: [{ text: "x" }] }], tools, toolConfig: { functionCallingConfig: { mode: "NONE" } }, generationConfig: { maxOutputTokens: 9 } }, "openai", "o3");
    expect(none).toMatchObject({ tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }], tool_choice: "none", max_completion_tokens: 9 });
    expect(none["tools"]).toHaveLength(1);
    const auto = toChatFromGenerateContent({ contents: [{ role: "user", parts: [{ text: "x" }] }], tools, tool_config: { function_calling_config: { mode: "AUTO" } } }, "openai", "gpt-4o");
    expect(auto["tool_choice"]).toBe("auto");
  });
});

describe("a chat answer as Gemini's", () => {
  const completion = {
    id: "chatcmpl-1",
    model: "gpt-4o",
    choices: [{ index: 0, finish_reason: "length", message: { content: "cut", reasoning_content: "hmm", tool_calls: [{ id: "c1", function: { name: "f", arguments: '{"a":1}' } }] } }],
  };

  it("shows thoughts only when asked for, and maps the finish reason and usage", () => {
    const answer = toGenerateContentResponse(completion, usage, false);
    expect(answer).toEqual({
      candidates: [{ content: { role: "model", parts: [{ text: "cut" }, { functionCall: { id: "c1", name: "f", args: { a: 1 } } }] }, finishReason: "MAX_TOKENS", index: 0 }],
      usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 10, cachedContentTokenCount: 2 },
      modelVersion: "gpt-4o",
      responseId: "chatcmpl-1",
    });
    expect((toGenerateContentResponse(completion, usage, true)["candidates"] as { content: { parts: unknown[] } }[])[0]?.content.parts[0]).toEqual({ text: "hmm", thought: true });
  });

  it("streams text as it comes and each tool call whole at the end, numbered calls apart", async () => {
    async function* chunks() {
      yield { json: { id: "s1", model: "m", choices: [{ index: 0, delta: { content: "Hi" } }] } };
      yield { json: { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "a", function: { name: "f", arguments: '{"x"' } }] } }] } };
      yield { json: { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ":1}" } }] } }] } };
      yield { json: { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "b", function: { name: "g", arguments: "{}" } }] }, finish_reason: "tool_calls" }] } };
    }
    const out = [];
    for await (const chunk of geminiChunks(chunks(), () => usage, false)) out.push(chunk);
    expect(out).toEqual([
      { candidates: [{ content: { role: "model", parts: [{ text: "Hi" }] }, index: 0 }], modelVersion: "m", responseId: "s1" },
      {
        candidates: [
          {
            content: { role: "model", parts: [{ functionCall: { id: "a", name: "f", args: { x: 1 } } }, { functionCall: { id: "b", name: "g", args: {} } }] },
            finishReason: "STOP",
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 10, cachedContentTokenCount: 2 },
        modelVersion: "m",
        responseId: "s1",
      },
    ]);
  });
});
