import type { EmbeddingsResult, Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, jsonArray } from "./content.js";

// OpenAI embeddings requests and responses in Gemini's batchEmbedContents shapes.

export const GEMINI_EMBEDDING_PARAMS: ReadonlySet<string> = new Set(["model", "input", "dimensions", "encoding_format"]);

/** The texts to embed; Gemini takes text only, not OpenAI's token arrays. */
export function embeddingInputs(input: unknown): string[] {
  const inputs = typeof input === "string" ? [input] : input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((item): item is string => typeof item === "string")) {
    throw badRequest("input must be a string or a non-empty array of strings for gemini models", "input");
  }
  return inputs;
}

export function toGeminiEmbeddingsRequest(body: OpenAIBody, modelName: string): Json {
  const dimensions = typeof body["dimensions"] === "number" ? { outputDimensionality: body["dimensions"] } : {};
  return {
    requests: embeddingInputs(body["input"]).map((text) => ({ model: modelName, content: { parts: [{ text }] }, ...dimensions })),
  };
}

/** Float32 little-endian bytes in base64: what OpenAI sends for encoding_format "base64". */
function toBase64(values: number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}

export function fromGeminiEmbeddings(response: Json, body: OpenAIBody, providerModel: string): EmbeddingsResult {
  const base64 = body["encoding_format"] === "base64";
  const data = jsonArray(response["embeddings"]).map((embedding, index) => {
    const values = Array.isArray(embedding["values"]) ? (embedding["values"] as number[]) : [];
    return { object: "embedding", index, embedding: base64 ? toBase64(values) : values };
  });
  const metadata = response["usageMetadata"] as Json | undefined;
  const tokens = metadata?.["promptTokenCount"];
  const usage = typeof tokens === "number" ? { promptTokens: tokens, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 } : undefined;
  return {
    response: { object: "list", data, model: providerModel, ...(usage && { usage: { prompt_tokens: tokens, total_tokens: tokens } }) },
    usage,
  };
}
