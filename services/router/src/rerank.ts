import { estimatedUsage, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { servedBy } from "./providers/index.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { badRequest } from "./translate/content.js";

export function validateRerankBody(body: Json): void {
  if (typeof body["query"] !== "string" || body["query"] === "") throw badRequest("query must be a non-empty string", "query");
  const documents = body["documents"];
  if (!Array.isArray(documents) || documents.length === 0) throw badRequest("documents must be a non-empty array", "documents");
  for (const document of documents) {
    if (typeof document !== "string" && (typeof document !== "object" || document === null || Array.isArray(document))) {
      throw badRequest("each of documents must be a string or an object", "documents");
    }
  }
}

/** Reranking on the call's deployment: Started, the scores as the provider gave them, Finished; priced by the tokens read. */
export async function rerank(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const result = await servedBy(d, "rerank", "rerank")(call);
  return [started(d), response(result.response), finished(outcome, d, result.usage ?? estimatedUsage("", 0))];
}
