import type { MessageInitShape } from "@bufbuild/protobuf";
import { costOf } from "@gateway/common";
import type { CompleteResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { Deployment } from "./config/deployment.js";
import type { Usage } from "./providers/provider.js";
import { estimateTokens } from "./tokens.js";

export type ResponseInit = MessageInitShape<typeof CompleteResponseSchema>;

/** What the request turned out to be, for its usage event; filled as it runs. */
export interface Outcome {
  deployment: Deployment | undefined;
  usage: Usage | undefined;
  usageEstimated: boolean;
}

export function costFor(d: Deployment, usage: Usage): number {
  return costOf(d.price, usage.promptTokens, usage.completionTokens, usage.cachedTokens, usage.cacheWriteTokens);
}

/** Usage counted locally, for a provider that reported none. */
export function estimatedUsage(promptText: string, completionText: string): Usage {
  return { promptTokens: estimateTokens(promptText), completionTokens: estimateTokens(completionText), cachedTokens: 0, cacheWriteTokens: 0 };
}

const encoder = new TextEncoder();

export function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function started(d: Deployment): ResponseInit {
  return {
    event: {
      case: "started",
      value: { modelGroup: d.modelGroup, deploymentId: d.id, providerModel: d.providerModel },
    },
  };
}

export function response(value: unknown): ResponseInit {
  return { event: { case: "response", value: json(value) } };
}

/** The closing event, with the usage that is now final. */
export function finished(outcome: Outcome, d: Deployment, usage: Usage): ResponseInit {
  outcome.usage = usage;
  const value = { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cost: costFor(d, usage) };
  return { event: { case: "finished", value } };
}
