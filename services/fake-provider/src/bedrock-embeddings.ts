import { randomUUID } from "node:crypto";
import { countTokens, type Json } from "./reply.js";
import { embed } from "./vectors.js";

// Bedrock's InvokeModel (POST /model/{modelId}/invoke) for text embedding
// models, each taking its model's native body; shapes from AWS's public model
// parameter reference: Amazon Titan Text Embeddings (G1 as v1, and v2) and
// Cohere Embed (v3's body and answer, for every cohere.embed-* id). bedrock.ts
// lets the caller in, injects failures and sends refusals as ValidationExceptions.

/** An invocation's answer with the input tokens Bedrock reports in a header, or why Bedrock would refuse the body. */
export type Invocation = { body: Json; inputTokens: number } | { refusal: string };

const TITAN = "amazon.titan-embed-text-";
const TITAN_V2 = "amazon.titan-embed-text-v2";
const COHERE = "cohere.embed-";

const TITAN_V1_KEYS = new Set(["inputText"]);
const TITAN_V2_KEYS = new Set(["inputText", "dimensions", "normalize", "embeddingTypes"]);
const TITAN_V1_DIMENSIONS = 1536;
const TITAN_V2_DIMENSIONS: readonly number[] = [256, 512, 1024];
const TITAN_V2_DEFAULT_DIMENSIONS = 1024;

const COHERE_KEYS = new Set(["texts", "input_type", "truncate", "embedding_types"]);
const INPUT_TYPES: readonly unknown[] = ["search_document", "search_query", "classification", "clustering"];
const TRUNCATIONS: readonly unknown[] = ["NONE", "START", "END"];
const COHERE_DIMENSIONS = 1024;
const MAX_TEXTS = 96;

/** A refusal worded as Bedrock words its checks of a model's body. */
const malformed = (detail: string): Invocation => ({ refusal: `Malformed input request: ${detail}, please reformat your input and try again.` });

const extraneousKey = (body: Json, allowed: Set<string>): string | undefined => Object.keys(body).find((key) => !allowed.has(key));

/** Whether a list of embedding types asks for floats only, the one type this fake serves. */
const floatsOnly = (types: unknown): boolean => Array.isArray(types) && types.length > 0 && types.every((type) => type === "float");

/** Titan v1 takes inputText alone; v2 also a size and a float-only type list. The vectors are unit length whatever `normalize` says. */
function titan(body: Json, v2: boolean): Invocation {
  const extra = extraneousKey(body, v2 ? TITAN_V2_KEYS : TITAN_V1_KEYS);
  if (extra !== undefined) return malformed(`extraneous key [${extra}] is not permitted`);
  const { inputText, normalize, embeddingTypes } = body;
  if (inputText === undefined) return malformed("#: required key [inputText] not found");
  if (typeof inputText !== "string") return malformed("#/inputText: expected type: String");
  if (inputText === "") return malformed("#/inputText: expected minLength: 1, actual: 0");
  const dimensions = body.dimensions ?? TITAN_V2_DEFAULT_DIMENSIONS;
  if (typeof dimensions !== "number" || !TITAN_V2_DIMENSIONS.includes(dimensions)) {
    return malformed(`#/dimensions: ${JSON.stringify(dimensions)} is not a valid enum value`);
  }
  if (normalize !== undefined && typeof normalize !== "boolean") return malformed("#/normalize: expected type: Boolean");
  if (embeddingTypes !== undefined && !floatsOnly(embeddingTypes)) return malformed('#/embeddingTypes: expected ["float"], the only type this fake serves');
  const inputTokens = countTokens(inputText);
  if (!v2) return { body: { embedding: embed(inputText, TITAN_V1_DIMENSIONS), inputTextTokenCount: inputTokens }, inputTokens };
  const embedding = embed(inputText, dimensions);
  return { body: { embedding, inputTextTokenCount: inputTokens, embeddingsByType: { float: embedding } }, inputTokens };
}

/**
 * Cohere's body carries no token count, so the header's is the only one.
 * Asking for embedding_types turns the answer into Cohere's by-type shape.
 */
function cohere(body: Json): Invocation {
  const extra = extraneousKey(body, COHERE_KEYS);
  if (extra !== undefined) return malformed(`extraneous key [${extra}] is not permitted`);
  const { texts, input_type: inputType, truncate, embedding_types: types } = body;
  if (texts === undefined) return malformed("#: required key [texts] not found");
  if (!Array.isArray(texts)) return malformed("#/texts: expected type: JSONArray");
  if (texts.length === 0) return malformed("#/texts: expected minimum item count: 1, found: 0");
  if (texts.length > MAX_TEXTS) return malformed(`#/texts: expected maximum item count: ${MAX_TEXTS}, found: ${texts.length}`);
  const notText = texts.findIndex((text) => typeof text !== "string");
  if (notText >= 0) return malformed(`#/texts/${notText}: expected type: String`);
  if (inputType === undefined) return malformed("#: required key [input_type] not found");
  if (!INPUT_TYPES.includes(inputType)) return malformed(`#/input_type: ${JSON.stringify(inputType)} is not a valid enum value`);
  if (truncate !== undefined && !TRUNCATIONS.includes(truncate)) return malformed(`#/truncate: ${JSON.stringify(truncate)} is not a valid enum value`);
  if (types !== undefined && !floatsOnly(types)) return malformed('#/embedding_types: expected ["float"], the only type this fake serves');
  const inputs = texts as string[];
  const vectors = inputs.map((text) => embed(text, COHERE_DIMENSIONS));
  const embeddings = types === undefined ? { embeddings: vectors, response_type: "embeddings_floats" } : { embeddings: { float: vectors }, response_type: "embeddings_by_type" };
  return {
    body: { ...embeddings, id: randomUUID(), texts: inputs },
    inputTokens: inputs.reduce((sum, text) => sum + countTokens(text), 0),
  };
}

/** Answers an InvokeModel body sent to `modelId` (a model id, or an ARN ending with one). */
export function invokeEmbedding(modelId: string, body: Json): Invocation {
  const model = modelId.slice(modelId.lastIndexOf("/") + 1);
  if (model.startsWith(TITAN)) return titan(body, model.startsWith(TITAN_V2));
  if (model.startsWith(COHERE)) return cohere(body);
  return { refusal: `This fake serves InvokeModel for text embedding models only (${TITAN}*, ${COHERE}*), not ${modelId}.` };
}
