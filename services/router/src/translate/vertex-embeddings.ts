import type { JsonResult, Json, OpenAIBody } from "../providers/provider.js";
import { isJson, jsonArray } from "./content.js";
import { embeddingInputs, embeddingList } from "./embedding-list.js";
import { count } from "./usage.js";

// OpenAI embeddings requests and answers in Vertex AI's predict shapes for
// its text embedding models (instances in, predictions out), from Google's
// public reference.

export const VERTEX_EMBEDDING_PARAMS: ReadonlySet<string> = new Set(["model", "input", "dimensions", "encoding_format"]);

/** The predict requests for an embeddings body, `perRequest` texts each (gemini-embedding-001 takes one). */
export function toVertexEmbeddingsRequests(body: OpenAIBody, perRequest: number): Json[] {
  const texts = embeddingInputs(body["input"], "vertex_ai");
  const parameters = typeof body["dimensions"] === "number" ? { parameters: { outputDimensionality: body["dimensions"] } } : {};
  const requests: Json[] = [];
  for (let at = 0; at < texts.length; at += perRequest) requests.push({ instances: texts.slice(at, at + perRequest).map((content) => ({ content })), ...parameters });
  return requests;
}

/** The answers to those requests, in their order, as one OpenAI list. */
export function fromVertexEmbeddings(answers: Json[], body: OpenAIBody, providerModel: string): JsonResult {
  let tokens: number | undefined;
  const vectors = answers.flatMap((answer) => jsonArray(answer["predictions"])).map((prediction) => {
    const embeddings = isJson(prediction["embeddings"]) ? prediction["embeddings"] : {};
    const reported = isJson(embeddings["statistics"]) ? embeddings["statistics"]["token_count"] : undefined;
    if (typeof reported === "number") tokens = (tokens ?? 0) + count(reported);
    return Array.isArray(embeddings["values"]) ? (embeddings["values"] as number[]) : [];
  });
  return embeddingList(vectors, body, providerModel, tokens);
}
