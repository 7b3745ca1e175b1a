import type { JsonResult, Json, OpenAIBody } from "../providers/provider.js";
import { jsonArray } from "./content.js";
import { embeddingInputs, embeddingList } from "./embedding-list.js";

// OpenAI embeddings requests and responses in Gemini's batchEmbedContents shapes.

export const GEMINI_EMBEDDING_PARAMS: ReadonlySet<string> = new Set(["model", "input", "dimensions", "encoding_format", "task_type"]);

export function toGeminiEmbeddingsRequest(body: OpenAIBody, modelName: string): Json {
  const options = {
    ...(typeof body["dimensions"] === "number" && { outputDimensionality: body["dimensions"] }),
    // LiteLLM's name for what the texts are for (RETRIEVAL_QUERY, RETRIEVAL_DOCUMENT, …).
    ...(typeof body["task_type"] === "string" && { taskType: body["task_type"] }),
  };
  return {
    requests: embeddingInputs(body["input"], "gemini").map((text) => ({ model: modelName, content: { parts: [{ text }] }, ...options })),
  };
}

export function fromGeminiEmbeddings(response: Json, body: OpenAIBody, providerModel: string): JsonResult {
  const vectors = jsonArray(response["embeddings"]).map((embedding) => (Array.isArray(embedding["values"]) ? (embedding["values"] as number[]) : []));
  const tokens = (response["usageMetadata"] as Json | undefined)?.["promptTokenCount"];
  return embeddingList(vectors, body, providerModel, typeof tokens === "number" ? tokens : undefined);
}
