import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { sendError } from "./gemini.js";
import { countTokens, isRecord, sendJson, takeFailure, type IncomingCall, type Json } from "./reply.js";
import { embed } from "./vectors.js";

// Vertex AI's text embedding models (POST .../publishers/google/models/{model}:predict),
// shapes from Google's public Vertex AI text embeddings reference: instances
// of {content, task_type, title}, parameters {outputDimensionality,
// autoTruncate}, predictions of {embeddings: {values, statistics}} and
// metadata.billableCharacterCount, refusals in Google's error shape.

const PARAMETER_KEYS = new Set(["outputDimensionality", "autoTruncate"]);

/**
 * A model's full vector size (the default, and the most outputDimensionality
 * may ask) and how many instances one request may carry: gemini-embedding-001
 * takes one, the text-embedding models 250.
 */
function limitsOf(model: string): { dimensions: number; instances: number } {
  return model.startsWith("gemini-embedding") ? { dimensions: 3072, instances: 1 } : { dimensions: 768, instances: 250 };
}

/** Why Vertex AI would refuse the body with INVALID_ARGUMENT, or undefined when it takes it. */
function refusal(body: Json, model: string): string | undefined {
  const { instances, parameters = {} } = body;
  const limits = limitsOf(model);
  if (!Array.isArray(instances) || instances.length === 0) return "instances must be a non-empty list.";
  if (instances.length > limits.instances) return `${model} takes at most ${limits.instances} instances per request, got ${instances.length}.`;
  for (const [i, instance] of instances.entries()) {
    if (!isRecord(instance) || typeof instance.content !== "string") return `instances[${i}].content must be a string.`;
    const other = ["task_type", "title"].find((key) => instance[key] !== undefined && typeof instance[key] !== "string");
    if (other !== undefined) return `instances[${i}].${other} must be a string.`;
  }
  if (!isRecord(parameters)) return "parameters must be an object.";
  const unknown = Object.keys(parameters).find((key) => !PARAMETER_KEYS.has(key));
  if (unknown !== undefined) return `Invalid JSON payload received. Unknown name "${unknown}" at 'parameters': Cannot find field.`;
  const { outputDimensionality: size, autoTruncate } = parameters;
  if (size !== undefined && (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > limits.dimensions)) {
    return `outputDimensionality must be an integer from 1 to ${limits.dimensions} for ${model}, got ${JSON.stringify(size)}.`;
  }
  if (autoTruncate !== undefined && typeof autoTruncate !== "boolean") return "parameters.autoTruncate must be a boolean.";
  return undefined;
}

/**
 * Answers one :predict call to a Google model whose caller is already let in
 * (an injected failure, or the embeddings), each vector of the size asked for
 * and nothing truncated; characters are counted as code points.
 */
export function predictEmbeddings(call: IncomingCall, res: ServerResponse, behavior: Behavior, model: string): void {
  const failure = takeFailure(behavior);
  if (failure) return sendError(res, failure.status, `Injected failure (HTTP ${failure.status}) from the fake provider.`, failure.headers);
  if (!isRecord(call.body)) return sendError(res, 400, "Invalid JSON payload received.");
  if (!model.includes("embedding")) return sendError(res, 400, `This fake serves :predict for text embedding models only, not ${model}.`);
  const refused = refusal(call.body, model);
  if (refused) return sendError(res, 400, refused);
  const contents = (call.body.instances as Json[]).map((instance) => instance.content as string);
  const parameters = isRecord(call.body.parameters) ? call.body.parameters : {};
  const size = typeof parameters.outputDimensionality === "number" ? parameters.outputDimensionality : limitsOf(model).dimensions;
  sendJson(res, 200, {
    predictions: contents.map((content) => ({
      embeddings: { values: embed(content, size), statistics: { token_count: countTokens(content), truncated: false } },
    })),
    metadata: { billableCharacterCount: contents.reduce((sum, content) => sum + [...content].length, 0) },
  });
}
