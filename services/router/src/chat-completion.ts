import { Code } from "@connectrpc/connect";
import { costOf, gatewayError } from "@gateway/common";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CompleteResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { Deployment } from "./config/deployment.js";
import { adapterFor } from "./providers/index.js";
import { usageFrom } from "./providers/openai.js";
import type { OpenAIBody, Usage } from "./providers/provider.js";
import { estimateTokens, messagesText } from "./tokens.js";

export type ResponseInit = MessageInitShape<typeof CompleteResponseSchema>;

const encoder = new TextEncoder();

/** What the request turned out to be, for its usage event; filled as it runs. */
export interface Outcome {
  deployment: Deployment | undefined;
  usage: Usage | undefined;
  usageEstimated: boolean;
}

export function costFor(d: Deployment, usage: Usage): number {
  return costOf(d.price, usage.promptTokens, usage.completionTokens, usage.cachedTokens);
}

export function validateChatBody(body: OpenAIBody): void {
  const messages = body["messages"];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw gatewayError("messages must be a non-empty array", Code.InvalidArgument, { type: "invalid_request_error", param: "messages" });
  }
}

function started(d: Deployment): ResponseInit {
  return {
    event: {
      case: "started",
      value: { modelGroup: d.modelGroup, deploymentId: d.id, providerModel: d.providerModel },
    },
  };
}

function finish(outcome: Outcome, d: Deployment, usage: Usage): ResponseInit {
  outcome.usage = usage;
  const value = { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cost: costFor(d, usage) };
  return { event: { case: "finished", value } };
}

function estimate(body: OpenAIBody, completionText: string): Usage {
  return { promptTokens: estimateTokens(messagesText(body["messages"])), completionTokens: estimateTokens(completionText), cachedTokens: 0 };
}

/** Runs a non-streaming chat completion on one deployment. */
export async function* chat(d: Deployment, body: OpenAIBody, signal: AbortSignal, outcome: Outcome): AsyncGenerator<ResponseInit> {
  outcome.deployment = d;
  const result = await adapterFor(d).chat({ deployment: d, body, signal });
  let usage = result.usage;
  if (!usage) {
    const choices = result.response["choices"] as { message?: { content?: unknown } }[] | undefined;
    const content = choices?.[0]?.message?.content;
    usage = estimate(body, typeof content === "string" ? content : "");
    outcome.usageEstimated = true;
  }
  yield started(d);
  yield { event: { case: "response", value: encoder.encode(JSON.stringify(result.response)) } };
  yield finish(outcome, d, usage);
}

/**
 * Runs a streaming chat completion on one deployment. The provider is always
 * asked for usage; the client sees usage chunks only if it asked for them.
 */
export async function* chatStream(d: Deployment, body: OpenAIBody, signal: AbortSignal, outcome: Outcome): AsyncGenerator<ResponseInit> {
  outcome.deployment = d;
  const wantsUsage = (body["stream_options"] as { include_usage?: unknown } | undefined)?.include_usage === true;
  const chunks = await adapterFor(d).chatStream({ deployment: d, body, signal });
  yield started(d);
  let text = "";
  try {
    for await (const chunk of chunks) {
      const usage = usageFrom(chunk["usage"]);
      if (usage) outcome.usage = usage;
      const choices = chunk["choices"] as { delta?: { content?: unknown } }[] | undefined;
      const content = choices?.[0]?.delta?.content;
      if (typeof content === "string") text += content;
      if (!wantsUsage && "usage" in chunk) {
        if (!choices || choices.length === 0) continue;
        delete chunk["usage"];
      }
      yield { event: { case: "chunk", value: encoder.encode(JSON.stringify(chunk)) } };
    }
  } finally {
    // A stream that ended early still spent tokens: keep what was seen.
    if (!outcome.usage) {
      outcome.usage = estimate(body, text);
      outcome.usageEstimated = true;
    }
  }
  yield finish(outcome, d, outcome.usage);
}
