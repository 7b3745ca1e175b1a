import { Code } from "@connectrpc/connect";
import { estimateTokens, gatewayError } from "@gateway/common";
import { estimatedUsage, finished, response, started, type Outcome, type CallEvent } from "./outcome.js";
import { adapterFor, servedBy } from "./providers/index.js";
import type { Json, OpenAIBody, ProviderCall, Usage } from "./providers/provider.js";
import { fitParams } from "./translate/params.js";

function invalidInput(): Error {
  return gatewayError("input must be a non-empty string or array", Code.InvalidArgument, { type: "invalid_request_error", param: "input" });
}

export function validateEmbeddingsBody(body: OpenAIBody): void {
  const input = body["input"];
  if (typeof input === "string" ? input === "" : !Array.isArray(input) || input.length === 0) throw invalidInput();
}

/** Tokens of an embeddings input: texts estimated, token arrays counted. */
function inputTokens(input: unknown): number {
  if (typeof input === "string") return estimateTokens(input);
  if (typeof input === "number") return 1;
  return Array.isArray(input) ? input.reduce<number>((sum, item) => sum + inputTokens(item), 0) : 0;
}

/** OpenAI embeddings on the call's deployment: the OpenAI list and its usage (counted here when the provider reports none). */
export async function embedded(call: ProviderCall, outcome: Outcome): Promise<{ list: Json; usage: Usage }> {
  const d = call.deployment;
  outcome.deployment = d;
  const embed = servedBy(d, "embeddings", "serve embeddings");
  const body = fitParams(call.body, adapterFor(d).embeddingParams, d.dropParams, d.provider);
  const result = await embed({ ...call, body });
  let usage: Usage | undefined = result.usage;
  if (!usage) {
    usage = { ...estimatedUsage("", 0), promptTokens: inputTokens(body["input"]) };
    outcome.usageEstimated = true;
    result.response["usage"] = { prompt_tokens: usage.promptTokens, total_tokens: usage.promptTokens };
  }
  return { list: result.response, usage };
}

/** OpenAI embeddings on the call's deployment: Started, the OpenAI list, Finished. */
export async function embeddings(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  const { list, usage } = await embedded(call, outcome);
  return [started(d), response(list), finished(outcome, d, usage)];
}
