import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, isJson } from "./content.js";
import { isGemini3OrLater } from "./gemini-generation.js";

// OpenAI's reasoning_effort and the thinking budgets other providers take
// instead, both ways. The budgets are LiteLLM's, so a client moving over
// gets the same thinking for the same effort.

const BUDGET_BY_EFFORT: Record<string, number> = { minimal: 1024, low: 1024, medium: 2048, high: 4096, xhigh: 8192 };
/** The least thinking budget Anthropic takes. */
const MIN_THINKING_BUDGET = 1024;

/**
 * The thinking budget a reasoning_effort asks for: 0 for "none" (no
 * thinking), undefined when the body has no effort, a 400 for a value that
 * is none of OpenAI's.
 */
export function effortBudget(body: OpenAIBody): number | undefined {
  const effort = body["reasoning_effort"];
  if (effort === undefined || effort === null) return undefined;
  if (effort === "none") return 0;
  const budget = typeof effort === "string" ? BUDGET_BY_EFFORT[effort] : undefined;
  if (budget === undefined) throw badRequest(`reasoning_effort must be one of none, ${Object.keys(BUDGET_BY_EFFORT).join(", ")}`, "reasoning_effort");
  return budget;
}

// Claude models from 4.6 on think adaptively, at an effort (output_config.effort);
// from Opus 4.7 on they take nothing else, and a thinking budget is a 400.
// Earlier ones (Haiku 4.5 included) take a budget only.
const CLAUDE_VERSION = /claude-(?:opus|sonnet|haiku|fable|mythos)-(\d+)(?:-(\d{1,2})(?!\d))?/;

/** Whether a Claude model thinks adaptively (by effort) rather than within a budget; xhigh is taken from Opus 4.7 on. */
function adaptiveThinking(providerModel: string): { adaptive: boolean; xhigh: boolean } {
  if (providerModel.includes("claude-mythos")) return { adaptive: true, xhigh: true };
  const match = CLAUDE_VERSION.exec(providerModel);
  const version = match ? Number(match[1]) + Number(match[2] ?? 0) / 100 : 0;
  return { adaptive: version >= 4.06, xhigh: version >= 4.07 };
}

/** Anthropic's effort for a reasoning_effort: its levels are low, medium, high and (on newer models) xhigh. */
function anthropicEffort(effort: string, xhigh: boolean): string {
  if (effort === "minimal") return "low";
  return effort === "xhigh" && !xhigh ? "high" : effort;
}

/**
 * Anthropic's thinking (and, for adaptive models, output_config) and
 * max_tokens for an OpenAI body: a `thinking` object as the client sent it,
 * else its reasoning_effort, as an effort for the models that think
 * adaptively and as a budget for the earlier ones. OpenAI's token limit
 * covers reasoning, as Anthropic's max_tokens covers thinking: a budget the
 * client's limit leaves no room past shrinks to fit (a limit too small for
 * any thinking is a 400). Without a limit, the answer keeps `answerTokens`
 * on top of the budget (for an adaptive model, the budget its effort would
 * have had).
 */
export function anthropicThinking(body: OpenAIBody, providerModel: string, maxTokens: number | undefined, answerTokens: number): { fields: Json; maxTokens: number } {
  const given = body["thinking"];
  if (isJson(given)) return { fields: { thinking: given }, maxTokens: maxTokens ?? answerTokens + (typeof given["budget_tokens"] === "number" ? given["budget_tokens"] : 0) };
  const budget = effortBudget(body);
  if (!budget) return { fields: {}, maxTokens: maxTokens ?? answerTokens };
  const { adaptive, xhigh } = adaptiveThinking(providerModel);
  if (adaptive) {
    const fields = { thinking: { type: "adaptive" }, output_config: { effort: anthropicEffort(body["reasoning_effort"] as string, xhigh) } };
    return { fields, maxTokens: maxTokens ?? budget + answerTokens };
  }
  if (maxTokens === undefined) return { fields: { thinking: { type: "enabled", budget_tokens: budget } }, maxTokens: budget + answerTokens };
  if (maxTokens <= MIN_THINKING_BUDGET) {
    throw badRequest(`reasoning_effort needs max_tokens above ${MIN_THINKING_BUDGET} for this model, which thinks in ${MIN_THINKING_BUDGET} tokens at least`, "reasoning_effort");
  }
  return { fields: { thinking: { type: "enabled", budget_tokens: Math.min(budget, maxTokens - 1) } }, maxTokens };
}

// Gemini 2.5 Pro always thinks, 128 tokens at least.
const GEMINI_PRO_LEAST_BUDGET = 128;

/**
 * Gemini's thinkingConfig for a reasoning_effort, asking for the thoughts
 * (which become reasoning_content). Gemini 3 takes a level, low or high,
 * and cannot turn thinking off; earlier models take a budget, 0 for none
 * (or, for 2.5 Pro, which cannot stop thinking, its least).
 */
export function geminiThinkingConfig(body: OpenAIBody, providerModel: string): Json | undefined {
  const budget = effortBudget(body);
  if (budget === undefined) return undefined;
  if (isGemini3OrLater(providerModel)) return { thinkingLevel: budget > BUDGET_BY_EFFORT["low"]! ? "high" : "low", includeThoughts: true };
  if (budget > 0) return { thinkingBudget: budget, includeThoughts: true };
  return { thinkingBudget: providerModel.startsWith("gemini-2.5-pro") ? GEMINI_PRO_LEAST_BUDGET : 0 };
}

/** The reasoning_effort nearest an Anthropic thinking budget, for models that take an effort instead. */
export function effortForBudget(budget: unknown): string {
  const tokens = typeof budget === "number" ? budget : 0;
  return tokens >= BUDGET_BY_EFFORT["high"]! ? "high" : tokens >= BUDGET_BY_EFFORT["medium"]! ? "medium" : "low";
}
