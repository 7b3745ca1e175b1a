import { describe, expect, it } from "vitest";
import type { Json, Usage } from "../src/providers/provider.js";
import { responsesEvents, toResponse } from "../src/translate/responses-response.js";

const usage: Usage = { promptTokens: 10, completionTokens: 5, cachedTokens: 4, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };

async function* chunks(...deltas: [Json, string?][]): AsyncGenerator<{ json: Json }> {
  for (const [delta, finish] of deltas) yield { json: { id: "c1", choices: [{ index: 0, delta, finish_reason: finish ?? null }] } };
}

async function collect(events: AsyncIterable<{ name: string; json: Json }>): Promise<Json[]> {
  const out: Json[] = [];
  for await (const event of events) out.push(event.json);
  return out;
}

describe("chat completion to Responses response", () => {
  it("lists reasoning, text and function calls as output items, with Responses usage", () => {
    const response = toResponse(
      {
        created: 7,
        choices: [
          {
            message: { content: "Let me look.", reasoning_content: "hmm", tool_calls: [{ id: "call_1", type: "function", function: { name: "w", arguments: '{"a":1}' } }] },
            finish_reason: "tool_calls",
          },
        ],
      },
      usage,
      { model: "gpt", instructions: "terse" },
    );
    expect(response).toMatchObject({
      object: "response",
      created_at: 7,
      status: "completed",
      model: "gpt",
      instructions: "terse",
      output: [
        { type: "reasoning", summary: [{ type: "summary_text", text: "hmm" }] },
        { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Let me look.", annotations: [] }] },
        { type: "function_call", call_id: "call_1", name: "w", arguments: '{"a":1}', status: "completed" },
      ],
      usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, total_tokens: 15 },
    });
  });

  it("says an answer cut at the token limit is incomplete", () => {
    const response = toResponse({ choices: [{ message: { content: "one" }, finish_reason: "length" }] }, usage, {});
    expect(response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });
});

describe("chat chunks to the Responses stream", () => {
  it("adds, fills and closes each item in order, numbering every event, and completes with the items and usage", async () => {
    const events = await collect(
      responsesEvents(
        chunks(
          [{ role: "assistant", reasoning_content: "hm" }],
          [{ content: "Hi" }],
          [{ content: "!" }],
          [{ tool_calls: [{ index: 0, id: "call_1", function: { name: "a", arguments: '{"x"' } }] }],
          [{ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }],
          [{ tool_calls: [{ index: 1, id: "call_2", function: { name: "b", arguments: "{}" } }] }],
          [{}, "tool_calls"],
        ),
        { model: "gpt" },
        () => usage,
      ),
    );
    expect(events.map((e) => e["type"])).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(events.map((e) => e["sequence_number"])).toEqual(events.map((_, i) => i));
    const completed = events.at(-1)!["response"] as Json;
    expect(completed).toMatchObject({
      status: "completed",
      output: [
        { type: "reasoning", summary: [{ text: "hm" }] },
        { type: "message", content: [{ text: "Hi!" }] },
        { type: "function_call", call_id: "call_1", name: "a", arguments: '{"x":1}' },
        { type: "function_call", call_id: "call_2", name: "b", arguments: "{}" },
      ],
      usage: { input_tokens: 10, output_tokens: 5 },
    });
    // The created event's response has the completed one's id, and no output yet.
    expect(events[0]!["response"]).toMatchObject({ id: completed["id"], status: "in_progress", output: [] });
  });
});
