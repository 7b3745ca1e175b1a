import type { JsonResult, OpenAIBody } from "../providers/provider.js";
import { badRequest } from "./content.js";
import { count } from "./usage.js";

// OpenAI embeddings requests and answers, for providers that take texts and
// give vectors in shapes of their own.

// OpenAI's own limit on the texts of one embeddings request. The providers
// that embed one text a call (Bedrock's Titan, Vertex's gemini-embedding)
// made a call for every text, so a body of a few megabytes of short texts
// held the gateway calling the provider for hours.
const MAX_INPUTS = 2048;

/** The texts to embed: OpenAI's token arrays are OpenAI's own, which `provider` does not take. */
export function embeddingInputs(input: unknown, provider: string): string[] {
  const inputs = typeof input === "string" ? [input] : input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((item): item is string => typeof item === "string")) {
    throw badRequest(`input must be a string or a non-empty array of strings for ${provider} models`, "input");
  }
  if (inputs.length > MAX_INPUTS) throw badRequest(`input must hold at most ${MAX_INPUTS} texts, as OpenAI's does; it holds ${inputs.length}`, "input");
  return inputs;
}

/** Float32 little-endian bytes in base64: what OpenAI sends for encoding_format "base64". */
function toBase64(values: number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}

/**
 * The provider's vectors, in input order, as OpenAI's embeddings list, with
 * the prompt tokens it reported: taken as any count a provider reports is,
 * a sum over many texts too.
 */
export function embeddingList(vectors: number[][], body: OpenAIBody, providerModel: string, reported: number | undefined): JsonResult {
  const promptTokens = reported === undefined ? undefined : count(reported);
  const base64 = body["encoding_format"] === "base64";
  const data = vectors.map((values, index) => ({ object: "embedding", index, embedding: base64 ? toBase64(values) : values }));
  const usage = promptTokens === undefined ? undefined : { promptTokens, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
  return {
    response: { object: "list", data, model: providerModel, ...(usage && { usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } }) },
    usage,
  };
}
