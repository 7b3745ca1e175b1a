import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ProviderError, type Json, type NamedEvent } from "../src/providers/provider.js";
import { toConverseRequest } from "../src/translate/converse-request.js";
import { anthropicEventsFromConverse, fromConverseResponse, type ConverseEvent } from "../src/translate/converse-response.js";

async function* converse(...list: [string, Json][]): AsyncGenerator<ConverseEvent> {
  for (const [type, json] of list) yield { type, json };
}

async function collect(events: AsyncIterable<NamedEvent>): Promise<NamedEvent[]> {
  const out: NamedEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe("Anthropic Messages request to Bedrock Converse", () => {
  it("moves each field where Converse has it and the rest to the model's own fields", () => {
    const request = toConverseRequest(
      {
        model: "claude",
        stream: true,
        metadata: { user_id: "u1" },
        max_tokens: 300,
        temperature: 0.5,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ["END"],
        thinking: { type: "enabled", budget_tokens: 1024 },
        system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
        messages: [
          { role: "user", content: "What is the weather?" },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "Look it up.", signature: "sig" },
              { type: "redacted_thinking", data: "b64" },
              { type: "tool_use", id: "t1", name: "get_weather", input: { location: "Paris" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "t1", content: "Sunny", is_error: false },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } },
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBER" } },
            ],
          },
        ],
        tools: [{ name: "get_weather", description: "Weather", input_schema: { type: "object" }, cache_control: { type: "ephemeral" } }],
        tool_choice: { type: "tool", name: "get_weather" },
      },
      true,
      true,
    );
    expect(request).toEqual({
      messages: [
        { role: "user", content: [{ text: "What is the weather?" }] },
        {
          role: "assistant",
          content: [
            { reasoningContent: { reasoningText: { text: "Look it up.", signature: "sig" } } },
            { reasoningContent: { redactedContent: "b64" } },
            { toolUse: { toolUseId: "t1", name: "get_weather", input: { location: "Paris" } } },
          ],
        },
        {
          role: "user",
          content: [
            { toolResult: { toolUseId: "t1", content: [{ text: "Sunny" }] } },
            { image: { format: "png", source: { bytes: "iVBOR" } } },
            { document: { format: "pdf", name: "document-1", source: { bytes: "JVBER" } } },
          ],
        },
      ],
      system: [{ text: "Be brief." }, { cachePoint: { type: "default" } }],
      inferenceConfig: { maxTokens: 300, temperature: 0.5, topP: 0.9, stopSequences: ["END"] },
      additionalModelResponseFieldPaths: ["/stop_sequence"],
      toolConfig: {
        tools: [{ toolSpec: { name: "get_weather", description: "Weather", inputSchema: { json: { type: "object" } } } }, { cachePoint: { type: "default" } }],
        toolChoice: { tool: { name: "get_weather" } },
      },
      additionalModelRequestFields: { top_k: 40, thinking: { type: "enabled", budget_tokens: 1024 } },
    });
  });

  it("leaves max_tokens to the model when asked to, marks failed tool results, and offers tools for tool_choice none only beside tool blocks", () => {
    const request = toConverseRequest(
      {
        max_tokens: 4096,
        messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "boom" }], is_error: true }] }],
        tools: [{ name: "f", input_schema: { type: "object" } }],
        tool_choice: { type: "none" },
      },
      false,
      false,
    );
    expect(request["inferenceConfig"]).toBeUndefined();
    expect(request["messages"]).toEqual([{ role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ text: "boom" }], status: "error" } }] }]);
    expect(request["toolConfig"]).toEqual({ tools: [{ toolSpec: { name: "f", inputSchema: { json: { type: "object" } } } }] });
    const tools = { tools: [{ name: "f", input_schema: { type: "object" } }] };
    const question = [{ role: "user", content: "no tools, please" }];
    expect(toConverseRequest({ max_tokens: 10, messages: question, ...tools, tool_choice: { type: "none" } }, true, false)).not.toHaveProperty("toolConfig");
    expect(toConverseRequest({ max_tokens: 10, messages: question, ...tools, tool_choice: { type: "auto" } }, true, false)["toolConfig"]).toMatchObject({ toolChoice: { auto: {} } });
  });

  it("sends a plain-text document as a document with a text source, and refuses one from a URL", () => {
    const text = { type: "document", title: "Notes", source: { type: "text", media_type: "text/plain", data: "The text." } };
    const request = toConverseRequest({ max_tokens: 10, messages: [{ role: "user", content: [text, { type: "text", text: "Sum up." }] }] }, true, true);
    expect(request["messages"]).toEqual([{ role: "user", content: [{ document: { format: "txt", name: "document-1", source: { text: "The text." } } }, { text: "Sum up." }] }]);
    const url = { type: "document", source: { type: "url", url: "https://x/a.pdf" } };
    expect(() => toConverseRequest({ max_tokens: 10, messages: [{ role: "user", content: [url] }] }, true, true)).toThrow(/base64 data or plain text, not as url/);
  });

  it("joins turns of one role in a row into one, as Converse wants the roles to alternate", () => {
    const request = toConverseRequest(
      {
        messages: [
          { role: "user", content: "first" },
          { role: "user", content: [{ type: "text", text: "second" }] },
          { role: "assistant", content: "answer" },
          { role: "user", content: "third" },
        ],
      },
      false,
      false,
    );
    expect(request["messages"]).toEqual([
      { role: "user", content: [{ text: "first" }, { text: "second" }] },
      { role: "assistant", content: [{ text: "answer" }] },
      { role: "user", content: [{ text: "third" }] },
    ]);
  });

  it("refuses what Converse cannot carry with a 400 naming it", () => {
    const refused = (body: Json) => {
      try {
        toConverseRequest(body, true, false);
      } catch (err) {
        return err instanceof ConnectError ? err.rawMessage : String(err);
      }
      return "accepted";
    };
    expect(refused({ messages: [{ role: "user", content: [{ type: "image", source: { type: "url", url: "https://x/y.png" } }] }] })).toMatch(/base64 data/);
    expect(refused({ messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/bmp", data: "x" } }] }] })).toMatch(/image\/bmp/);
    expect(refused({ messages: [{ role: "user", content: [{ type: "search_result", content: [] }] }] })).toMatch(/search_result/);
    expect(refused({ messages: [{ role: "user", content: "hi" }], tools: [{ type: "web_search_20250305", name: "web_search" }] })).toMatch(/web_search_20250305/);
    // JSON can make an object whose toString is not a function; String() of it threw a TypeError, a 500.
    const junk = JSON.parse('{"toString":1}') as Json;
    expect(refused({ messages: [{ role: "user", content: [{ type: junk }] }] })).toContain('"{"toString":1}"');
    expect(refused({ messages: [{ role: "user", content: [{ type: "image", source: { type: junk } }] }] })).toContain('{"toString":1}');
    expect(refused({ messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: junk, data: "x" } }] }] })).toContain('{"toString":1}');
    // A media type that names a property every object has is no format either.
    expect(refused({ messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "constructor", data: "x" } }] }] })).toMatch(/images of type constructor/);
    expect(refused({ messages: [{ role: "user", content: "hi" }], tools: [{ type: junk, name: "t" }] })).toContain('{"toString":1}');
  });
});

describe("which stop sequence ended a Bedrock answer", () => {
  it("asks Claude for it and reports it, whole and streamed; asks no other model", async () => {
    const body = { max_tokens: 10, stop_sequences: ["STOP", "END"], messages: [{ role: "user", content: "count" }] };
    expect(toConverseRequest(body, true, true)["additionalModelResponseFieldPaths"]).toEqual(["/stop_sequence"]);
    expect(toConverseRequest(body, true, false)).not.toHaveProperty("additionalModelResponseFieldPaths");
    expect(toConverseRequest({ ...body, stop_sequences: [] }, true, true)).not.toHaveProperty("additionalModelResponseFieldPaths");
    const stopped = { stopReason: "stop_sequence", additionalModelResponseFields: { stop_sequence: "END" } };
    const whole = fromConverseResponse({ output: { message: { role: "assistant", content: [{ text: "1 2 3" }] } }, usage: {}, ...stopped }, "m", "msg_1");
    expect(whole).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "END" });
    const streamed = await collect(
      anthropicEventsFromConverse(
        converse(["messageStart", { role: "assistant" }], ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "1 2 3" } }], ["contentBlockStop", { contentBlockIndex: 0 }], ["messageStop", stopped], ["metadata", { usage: {} }]),
        "m",
        "msg_2",
      ),
    );
    expect(streamed.find((e) => e.name === "message_delta")?.json).toMatchObject({ delta: { stop_reason: "stop_sequence", stop_sequence: "END" } });
    expect(fromConverseResponse({ output: { message: { content: [] } }, stopReason: "end_turn" }, "m", "msg_3")["stop_sequence"]).toBeNull();
  });
});

describe("Bedrock Converse answers as Anthropic messages", () => {
  it("carries text, thinking, tool calls, the stop reason and the usage with its cache counts", () => {
    const message = fromConverseResponse(
      {
        output: {
          message: {
            role: "assistant",
            content: [
              { reasoningContent: { reasoningText: { text: "Hmm.", signature: "sig" } } },
              { text: "Checking." },
              { toolUse: { toolUseId: "t1", name: "get_weather", input: { location: "Paris" } } },
            ],
          },
        },
        stopReason: "tool_use",
        usage: { inputTokens: 10, outputTokens: 5, totalTokens: 25, cacheReadInputTokens: 7, cacheWriteInputTokens: 3 },
        metrics: { latencyMs: 12 },
      },
      "anthropic.claude-3-haiku-20240307-v1:0",
      "msg_1",
    );
    expect(message).toEqual({
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "anthropic.claude-3-haiku-20240307-v1:0",
      content: [
        { type: "thinking", thinking: "Hmm.", signature: "sig" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "t1", name: "get_weather", input: { location: "Paris" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 3, cache_read_input_tokens: 7 },
    });
  });

  it("calls a guardrail's intervention a refusal", () => {
    expect(fromConverseResponse({ output: { message: { content: [] } }, stopReason: "guardrail_intervened" }, "m", "id")["stop_reason"]).toBe("refusal");
  });

  it("turns a stream's events into Anthropic's, opening the blocks Converse does not start itself", async () => {
    const events = await collect(
      anthropicEventsFromConverse(
        converse(
          ["messageStart", { role: "assistant" }],
          ["contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text: "Hmm." } } }],
          ["contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: "sig" } } }],
          ["contentBlockStop", { contentBlockIndex: 0 }],
          ["contentBlockDelta", { contentBlockIndex: 1, delta: { text: "Hi" } }],
          ["contentBlockStop", { contentBlockIndex: 1 }],
          ["contentBlockStart", { contentBlockIndex: 2, start: { toolUse: { toolUseId: "t1", name: "f" } } }],
          ["contentBlockDelta", { contentBlockIndex: 2, delta: { toolUse: { input: '{"a":' } } }],
          ["contentBlockStop", { contentBlockIndex: 2 }],
          ["messageStop", { stopReason: "tool_use" }],
          ["metadata", { usage: { inputTokens: 4, outputTokens: 6, totalTokens: 10 }, metrics: { latencyMs: 1 } }],
        ),
        "m",
        "msg_2",
      ),
    );
    expect(events.map((e) => e.name)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events[0]!.json).toMatchObject({ message: { id: "msg_2", model: "m", role: "assistant" } });
    expect(events[1]!.json).toEqual({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } });
    expect(events[3]!.json).toEqual({ type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig" } });
    expect(events[5]!.json).toEqual({ type: "content_block_start", index: 1, content_block: { type: "text", text: "" } });
    expect(events[8]!.json).toEqual({ type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "t1", name: "f", input: {} } });
    expect(events[9]!.json).toEqual({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"a":' } });
    expect(events[11]!.json).toEqual({
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { input_tokens: 4, output_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    // Each event's text is its JSON, for passing on as it is.
    for (const event of events) expect(JSON.parse(event.data)).toEqual(event.json);
  });

  it("calls a stream that ends before its metadata incomplete", async () => {
    const events = anthropicEventsFromConverse(converse(["messageStart", {}], ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hi" } }]), "m", "id");
    await expect(collect(events)).rejects.toBeInstanceOf(ProviderError);
  });
});
