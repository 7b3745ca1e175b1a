import { checkMessageList, messagesText } from "@gateway/common";
import { chunk as chunkEvent, estimatedUsage, finished, response, started, type Outcome, type CallEvent } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import type { ChatChunk, ChatResult, Json, OpenAIBody, ProviderAdapter, ProviderCall, Usage } from "./providers/provider.js";
import { jsonArray, str } from "./translate/content.js";
import { fitParams } from "./translate/params.js";
import { fromOpenAIUsage } from "./translate/usage.js";

export function validateChatBody(body: OpenAIBody): void {
  checkMessageList(body["messages"], "openai");
}

/**
 * The OpenAI API a call speaks: chat completions, or the older text
 * completions (text-completion.ts). Both answer and stream alike (choices,
 * usage, [DONE]); they differ in where the prompt is and in which of the
 * adapter's methods serves them.
 */
export interface OpenAIApi {
  /** The parameters the adapter takes (see ProviderAdapter.chatParams). */
  params(adapter: ProviderAdapter): ReadonlySet<string> | undefined;
  promptText(body: OpenAIBody): string;
  answer(adapter: ProviderAdapter, call: ProviderCall): Promise<ChatResult>;
  stream(adapter: ProviderAdapter, call: ProviderCall): Promise<AsyncIterable<ChatChunk>>;
}

const CHAT: OpenAIApi = {
  params: (adapter) => adapter.chatParams,
  promptText: (body) => messagesText(body["messages"]),
  answer: (adapter, call) => adapter.chat(call),
  stream: (adapter, call) => adapter.chatStream(call),
};

/** The call with its body fitted to what the deployment's provider takes (drop_params). */
function fitted(call: ProviderCall, api: OpenAIApi) {
  const d = call.deployment;
  const adapter = adapterFor(d);
  return { adapter, call: { ...call, body: fitParams(call.body, api.params(adapter), d.dropParams, d.provider) } };
}

/** How many characters a completion produced (content and tool-call arguments), for estimating its tokens. */
function completionChars(message: Json | undefined): number {
  if (!message) return 0;
  let chars = (str(message["content"])?.length ?? 0) + (str(message["reasoning_content"])?.length ?? 0);
  for (const call of jsonArray(message["tool_calls"])) chars += str((call["function"] as Json | undefined)?.["arguments"])?.length ?? 0;
  return chars;
}

/** How many characters a choice produced: its chat message (or delta), or a text completion's text. */
function choiceChars(choice: Json | undefined, part: "message" | "delta"): number {
  if (!choice) return 0;
  return completionChars(choice[part] as Json | undefined) + (str(choice["text"])?.length ?? 0);
}

/** Runs a non-streaming call on its deployment; usage is counted locally when the provider reports none. */
export async function runChat(call: ProviderCall, outcome: Outcome, api = CHAT): Promise<ChatResult> {
  outcome.deployment = call.deployment;
  const run = fitted(call, api);
  const result = await api.answer(run.adapter, run.call);
  if (result.usage) outcome.usage = result.usage;
  else {
    outcome.usage = estimatedUsage(api.promptText(call.body), choiceChars(jsonArray(result.response["choices"])[0], "message"));
    outcome.usageEstimated = true;
  }
  return result;
}

/**
 * What a chat stream used: the usage its chunks report, or, when they report
 * none (or the stream breaks first), a local count of the text they carried.
 * The text is counted as it passes, not kept: a long answer costs no memory.
 */
class StreamTally {
  private chars = 0;

  constructor(
    private readonly call: ProviderCall,
    private readonly outcome: Outcome,
    private readonly api: OpenAIApi,
  ) {}

  see(chunk: Json): void {
    const usage = fromOpenAIUsage(chunk["usage"]);
    if (usage) this.outcome.usage = usage;
    for (const choice of jsonArray(chunk["choices"])) this.chars += choiceChars(choice, "delta");
  }

  /** Records the count in the outcome when no usage came; once the stream has ended, however it ended. */
  settle(): void {
    if (this.outcome.usage) return;
    this.outcome.usage = estimatedUsage(this.api.promptText(this.call.body), this.chars);
    this.outcome.usageEstimated = true;
  }
}

/** Opens a stream on the call's deployment; resolves once the provider has accepted it. */
async function startChatStream(call: ProviderCall, outcome: Outcome, api: OpenAIApi): Promise<{ chunks: AsyncIterable<ChatChunk>; tally: StreamTally }> {
  outcome.deployment = call.deployment;
  const run = fitted(call, api);
  return { chunks: await api.stream(run.adapter, run.call), tally: new StreamTally(call, outcome, api) };
}

/**
 * Opens a streaming chat on the call's deployment; resolves once the provider
 * has accepted it. The chunks record the stream's usage in the outcome, or,
 * when it carries none (or breaks first), a local count of what was seen.
 */
export async function openChatStream(call: ProviderCall, outcome: Outcome): Promise<AsyncIterable<ChatChunk>> {
  const { chunks, tally } = await startChatStream(call, outcome, CHAT);
  return tallied(chunks, tally);
}

/** The chunks as they come, each seen by the tally, which settles once they end. */
async function* tallied(chunks: AsyncIterable<ChatChunk>, tally: StreamTally): AsyncGenerator<ChatChunk> {
  try {
    for await (const chunk of chunks) {
      tally.see(chunk.json);
      yield chunk;
    }
  } finally {
    tally.settle();
  }
}

// Cuts a top-level `"usage": null` out of a chunk's text, with the comma
// before or after it.
const NULL_USAGE = /,\s*"usage"\s*:\s*null|"usage"\s*:\s*null\s*,?/;

/**
 * A chunk without its usage, for a client that did not ask for usage (OpenAI
 * then sends none; the provider was asked all the same). OpenAI puts
 * `"usage": null` in every chunk but the last: when the text holds `"usage"`
 * just once, that is the key the object shows, and it is cut out of the
 * provider's text instead of writing the object anew.
 */
export function withoutUsage({ json, data }: ChatChunk): ChatChunk {
  const at = data?.indexOf('"usage"') ?? -1;
  if (json["usage"] === null && at >= 0 && data!.indexOf('"usage"', at + 1) < 0) return { json, data: data!.replace(NULL_USAGE, "") };
  // Left out of the JSON all the same; delete would make the object a slow dictionary.
  json["usage"] = undefined;
  return { json };
}

/** A non-streaming chat (or text) completion: Started, the OpenAI response, Finished. */
export async function chat(call: ProviderCall, outcome: Outcome, api = CHAT): Promise<CallEvent[]> {
  const result = await runChat(call, outcome, api);
  return [started(call.deployment), response(result.bytes ?? result.response), finished(outcome, call.deployment, outcome.usage!)];
}

/**
 * A streaming chat (or text) completion. The provider is always asked for
 * usage; the client sees usage chunks only if it asked for them, and then
 * always one: the local count when the provider reported none.
 */
export async function* chatStream(call: ProviderCall, outcome: Outcome, api = CHAT): AsyncGenerator<CallEvent> {
  const wantsUsage = (call.body["stream_options"] as { include_usage?: unknown } | undefined)?.include_usage === true;
  // Tallied here rather than through openChatStream: one generator fewer for every chunk to pass.
  const { chunks, tally } = await startChatStream(call, outcome, api);
  yield started(call.deployment);
  let last: Json | undefined;
  try {
    for await (const chunk of chunks) {
      tally.see(chunk.json);
      last = chunk.json;
      if (wantsUsage || !("usage" in chunk.json)) yield chunkEvent(chunk);
      else if (jsonArray(chunk.json["choices"]).length > 0) yield chunkEvent(withoutUsage(chunk));
    }
  } finally {
    tally.settle();
  }
  if (wantsUsage && outcome.usageEstimated) yield chunkEvent({ json: usageChunk(last, outcome.usage!) });
  yield finished(outcome, call.deployment, outcome.usage!);
}

/** OpenAI's last chunk for a client that asked for usage: no choices, the usage, the stream's id, object and model. */
function usageChunk(last: Json | undefined, usage: Usage): Json {
  return {
    id: last?.["id"],
    object: last?.["object"] ?? "chat.completion.chunk",
    created: last?.["created"],
    model: last?.["model"],
    choices: [],
    usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens },
  };
}
