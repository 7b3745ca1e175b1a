import { EMBEDDING_DEFAULTS, withCallDefaults } from "./call-defaults.js";
import { embedded } from "./embeddings.js";
import { finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { badRequest, isJson, jsonArray } from "./translate/content.js";
import { partsText } from "./translate/generate-content-request.js";

// Google's Gemini API embeddings (models/{model}:embedContent and
// :batchEmbedContents) on any deployment that embeds: each request's text
// becomes one input of an OpenAI embeddings call (natively Gemini's again
// on gemini/ deployments), and the vectors come back in Gemini's shape.

/** The requests of a body: :batchEmbedContents' list, or :embedContent's body itself. */
function requestsOf(body: Json): Json[] {
  return body["batch"] === true ? jsonArray(body["requests"]) : [body];
}

export function validateEmbedContentBody(body: Json): void {
  if (body["batch"] === true && (!Array.isArray(body["requests"]) || body["requests"].length === 0 || !body["requests"].every(isJson))) {
    throw badRequest("requests must be a non-empty list of embedding requests", "requests");
  }
  for (const request of requestsOf(body)) {
    if (partsText(request["content"]) === "") throw badRequest("content must hold parts with text to embed", "content");
  }
}

/**
 * The OpenAI embeddings body of a Gemini one, with the deployment's call
 * parameters it lacks: the first request's dimensions and task type stand
 * for all (Google's SDKs send one set).
 */
function asEmbeddings(body: Json, call: ProviderCall): Json {
  const requests = requestsOf(body);
  const first = requests[0]!;
  const dimensions = first["outputDimensionality"] ?? first["output_dimensionality"];
  const taskType = first["taskType"] ?? first["task_type"];
  const takesTaskType = adapterFor(call.deployment).embeddingParams?.has("task_type") === true;
  const embeddings = {
    model: body["model"],
    input: requests.map((request) => partsText(request["content"])),
    ...(typeof dimensions === "number" && { dimensions }),
    ...(typeof taskType === "string" && takesTaskType && { task_type: taskType }),
  };
  return withCallDefaults(embeddings, call.deployment.callDefaults, EMBEDDING_DEFAULTS);
}

/** Started, the vectors in Gemini's shape, Finished. */
export async function embedContent(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  const { list, usage } = await embedded({ ...call, body: asEmbeddings(call.body, call) }, outcome);
  const vectors = jsonArray(list["data"]).map((item) => ({ values: item["embedding"] }));
  const answer = call.body["batch"] === true ? { embeddings: vectors } : { embedding: vectors[0] };
  return [started(d), response(answer), finished(outcome, d, usage)];
}
