import type { Json, Usage } from "../providers/provider.js";

// Token usage in each wire format. OpenAI counts cached prompt tokens inside
// prompt_tokens; Anthropic's input_tokens (and Bedrock Converse's
// inputTokens) leave out both cache reads and cache writes; Gemini's
// promptTokenCount includes cached content, and thinking tokens are billed
// as output.

/**
 * The most a count a provider reports is taken as: past any real call's,
 * and small enough that a call's sums of counts (a prompt of input, cache
 * reads and cache writes; prompt plus completion) stay within the uint32
 * fields they travel in and the ledger's Postgres integers. A bigger count
 * reached the ledger as its low 32 bits (split, and over NATS), or as a
 * number Postgres refused, which left the call without a ledger row.
 */
const MOST_REPORTED = 2 ** 28;

/**
 * A count a provider reported: its whole tokens, at most MOST_REPORTED, or 0
 * for anything that is not a finite positive number. A fraction is cut: the
 * uint32 fields counts travel in refuse one, and a call whose usage event
 * cannot be written is never booked.
 */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(Math.trunc(value), MOST_REPORTED) : 0;
}

/**
 * The one-hour cache's part of a call's cache writes, from the split by
 * lifetime that Anthropic gives beside their total. A block without the
 * split predates the one-hour cache: all its writes went to the five-minute
 * one.
 */
function oneHourWrites(split: unknown, writes: number): number {
  if (split === null || typeof split !== "object") return 0;
  return Math.min(count((split as Json)["ephemeral_1h_input_tokens"]), writes);
}

/** The writes by cache lifetime, as Anthropic splits them (and LiteLLM passes the split on). */
function cacheWriteSplit(usage: Usage): Json {
  return { ephemeral_5m_input_tokens: usage.cacheWriteTokens - usage.cacheWrite1hTokens, ephemeral_1h_input_tokens: usage.cacheWrite1hTokens };
}

/** An Anthropic usage block, as a Usage; undefined when it carries no input count. */
export function fromAnthropicUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as Json;
  if (typeof u["input_tokens"] !== "number") return undefined;
  const cachedTokens = count(u["cache_read_input_tokens"]);
  const cacheWriteTokens = count(u["cache_creation_input_tokens"]);
  const webSearches = count((u["server_tool_use"] as Json | undefined)?.["web_search_requests"]);
  return {
    promptTokens: count(u["input_tokens"]) + cachedTokens + cacheWriteTokens,
    completionTokens: count(u["output_tokens"]),
    cachedTokens,
    cacheWriteTokens,
    cacheWrite1hTokens: oneHourWrites(u["cache_creation"], cacheWriteTokens),
    ...(webSearches > 0 && { webSearches }),
  };
}

/** Anthropic's stream reports usage in message_start and again, cumulatively, in message_delta: later fields win. */
export function mergeAnthropicUsage(previous: Json | undefined, next: unknown): Json | undefined {
  if (next === null || typeof next !== "object") return previous;
  const merged: Json = { ...previous };
  for (const [name, value] of Object.entries(next as Json)) if (value !== null && value !== undefined) merged[name] = value;
  return merged;
}

/** Bedrock Converse's usage in Anthropic's names: its inputTokens leave out cache reads and writes, as input_tokens do. */
export function anthropicUsageFromConverse(value: unknown): Json {
  const u = value !== null && typeof value === "object" ? (value as Json) : {};
  return {
    input_tokens: count(u["inputTokens"]),
    output_tokens: count(u["outputTokens"]),
    cache_creation_input_tokens: count(u["cacheWriteInputTokens"]),
    cache_read_input_tokens: count(u["cacheReadInputTokens"]),
  };
}

export function toAnthropicUsage(usage: Usage): Json {
  return {
    input_tokens: usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens,
    output_tokens: usage.completionTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedTokens,
    ...(usage.cacheWriteTokens > 0 && { cache_creation: cacheWriteSplit(usage) }),
  };
}

/**
 * OpenAI's usage block, as OpenAI and compatible servers send it. Cache
 * writes are read where LiteLLM reports Anthropic's (and toOpenAIUsage puts
 * them): a chat stream from Anthropic is priced from this block.
 */
export function fromOpenAIUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as Json;
  if (typeof u["prompt_tokens"] !== "number") return undefined;
  const details = (u["prompt_tokens_details"] ?? {}) as Json;
  const cacheWriteTokens = count(details["cache_creation_tokens"] ?? u["cache_creation_input_tokens"]);
  const reportedCost = dollars(u["cost"]);
  const reasoningTokens = count(((u["completion_tokens_details"] ?? {}) as Json)["reasoning_tokens"]);
  return {
    promptTokens: count(u["prompt_tokens"]),
    completionTokens: count(u["completion_tokens"]),
    cachedTokens: count(details["cached_tokens"]),
    cacheWriteTokens,
    cacheWrite1hTokens: oneHourWrites(details["cache_creation_token_details"], cacheWriteTokens),
    ...(reasoningTokens > 0 && { reasoningTokens }),
    ...(reportedCost !== undefined && { reportedCost }),
  };
}

/** What an OpenAI-format usage block says the call cost: OpenRouter's `cost` (dollars), Perplexity's `cost.total_cost`. */
function dollars(cost: unknown): number | undefined {
  const total = cost !== null && typeof cost === "object" ? (cost as Json)["total_cost"] : cost;
  return typeof total === "number" && Number.isFinite(total) && total >= 0 ? total : undefined;
}

/**
 * OpenAI's usage block; cache writes are named as LiteLLM names them for
 * Anthropic models, and thinking tokens, where the provider tells them
 * apart, as OpenAI's completion_tokens_details.reasoning_tokens.
 */
export function toOpenAIUsage(usage: Usage): Json {
  const writes = usage.cacheWriteTokens > 0;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: {
      cached_tokens: usage.cachedTokens,
      ...(writes && { cache_creation_tokens: usage.cacheWriteTokens, cache_creation_token_details: cacheWriteSplit(usage) }),
    },
    ...(usage.reasoningTokens !== undefined && { completion_tokens_details: { reasoning_tokens: usage.reasoningTokens } }),
    ...(writes && { cache_creation_input_tokens: usage.cacheWriteTokens }),
  };
}

/** A Responses API usage block (OpenAI's /v1/responses), as a Usage; undefined when it carries no input count. */
export function fromResponsesUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as Json;
  if (typeof u["input_tokens"] !== "number") return undefined;
  const details = (u["input_tokens_details"] ?? {}) as Json;
  return { promptTokens: count(u["input_tokens"]), completionTokens: count(u["output_tokens"]), cachedTokens: count(details["cached_tokens"]), cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
}

/** Gemini's usageMetadata, as a Usage; undefined when it carries no prompt count. */
export function fromGeminiUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as Json;
  if (typeof u["promptTokenCount"] !== "number") return undefined;
  const reasoningTokens = count(u["thoughtsTokenCount"]);
  return {
    promptTokens: count(u["promptTokenCount"]),
    completionTokens: count(u["candidatesTokenCount"]) + reasoningTokens,
    cachedTokens: count(u["cachedContentTokenCount"]),
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    ...(reasoningTokens > 0 && { reasoningTokens }),
  };
}

/** A rerank answer's usage (vLLM's, Together's, Jina's): the tokens read, as prompt tokens; undefined when it says none. */
export function fromRerankUsage(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as Json;
  const tokens = u["total_tokens"] ?? u["prompt_tokens"];
  if (typeof tokens !== "number") return undefined;
  return { promptTokens: count(tokens), completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
}
