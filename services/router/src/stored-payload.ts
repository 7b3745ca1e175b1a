import type { OpenAIBody } from "./providers/provider.js";
import type { Answer } from "./calls.js";
import type { CallEvent } from "./outcome.js";

// Each of the two is cut to this many characters: a spend log is no place for
// a whole document or an embedding's vectors.
const MAX_CHARS = 64 * 1024;

const decoder = new TextDecoder();

function capped(text: string): string {
  return text.length <= MAX_CHARS ? text : `${text.slice(0, MAX_CHARS)}…[truncated]`;
}

/**
 * A request's messages and its response as the spend log keeps them when
 * general_settings.store_prompts_in_spend_logs is on: the response body as
 * sent, or for a stream the text its chunks carried.
 */
export class StoredPayload {
  private response: string | undefined;
  private streamed = "";

  /** A call's answer as it is, keeping what the response says as it passes. */
  watch(answer: Answer): Answer {
    if (Symbol.asyncIterator in answer) return this.watchStream(answer);
    for (const event of answer) this.keep(event);
    return answer;
  }

  private async *watchStream(events: AsyncIterable<CallEvent>): AsyncGenerator<CallEvent> {
    for await (const event of events) {
      this.keep(event);
      yield event;
    }
  }

  private keep({ event }: CallEvent): void {
    if (!event) return;
    if (event.case === "response") this.response = decoder.decode(event.value);
    else if (event.case === "chunk") this.streamed += deltaText(event.value);
    else if (event.case === "namedChunk" && event.value.data) this.streamed += deltaText(event.value.data);
  }

  /** The usage event's messages and response fields. */
  fields(body: OpenAIBody | undefined): { messages: string; response: string } {
    const asked = body?.["messages"] ?? body?.["input"] ?? body?.["prompt"];
    const response = this.response ?? (this.streamed === "" ? "" : JSON.stringify({ role: "assistant", content: this.streamed }));
    return { messages: capped(asked === undefined ? "" : jsonOrNote(asked)), response: capped(response) };
  }
}

/** The messages as JSON; ones nested too deeply to write back (refused as a bad request) are noted, not kept. */
function jsonOrNote(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return "[not stored: nested too deeply]";
  }
}

/** The text one stream event adds: an OpenAI chunk's delta, or an Anthropic content_block_delta's. */
function deltaText(json: Uint8Array): string {
  let chunk: { choices?: { delta?: { content?: unknown } }[]; delta?: { text?: unknown } };
  try {
    chunk = JSON.parse(decoder.decode(json)) as typeof chunk;
  } catch {
    // Keeping a copy must never break the stream it copies.
    return "";
  }
  const text = chunk?.choices?.[0]?.delta?.content ?? chunk?.delta?.text;
  return typeof text === "string" ? text : "";
}
