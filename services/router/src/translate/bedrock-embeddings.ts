import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest } from "./content.js";
import { count } from "./usage.js";

// OpenAI embeddings requests as Bedrock's InvokeModel bodies for Amazon's
// Titan and Cohere's embedding models, and their answers' vectors back.
// Field names are from AWS's public model parameter references.

export const BEDROCK_EMBEDDING_PARAMS: ReadonlySet<string> = new Set(["model", "input", "dimensions", "encoding_format"]);

/** The embedding model families Bedrock serves that this gateway speaks. */
export type BedrockEmbedder = "titan" | "cohere";

export function bedrockEmbedder(modelId: string): BedrockEmbedder | undefined {
  if (modelId.includes("amazon.titan-embed-text")) return "titan";
  if (modelId.includes("cohere.embed-")) return "cohere";
  return undefined;
}

/** Titan embeds one text a call; its v2 sizes the vector (256, 512 or 1024), v1 does not. */
export function titanRequest(text: string, body: OpenAIBody, modelId: string): Json {
  if (body["dimensions"] === undefined) return { inputText: text };
  if (!modelId.includes("amazon.titan-embed-text-v2")) throw badRequest(`dimensions is not supported by ${modelId}`, "dimensions");
  return { inputText: text, dimensions: body["dimensions"] };
}

/** Cohere embeds a list a call; the texts are embedded as documents, as LiteLLM does by default. */
export function cohereRequest(texts: string[], body: OpenAIBody): Json {
  if (body["dimensions"] !== undefined) throw badRequest("dimensions is not supported by cohere models on bedrock", "dimensions");
  return { texts, input_type: "search_document" };
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? (value as number[]) : [];
}

export function titanVector(answer: Json): { vector: number[]; tokens: number | undefined } {
  const tokens = answer["inputTextTokenCount"];
  return { vector: numbers(answer["embedding"]), tokens: typeof tokens === "number" ? count(tokens) : undefined };
}

export function cohereVectors(answer: Json): number[][] {
  return Array.isArray(answer["embeddings"]) ? answer["embeddings"].map(numbers) : [];
}
