import { describe, expect, it } from "vitest";
import { titanVector } from "../src/translate/bedrock-embeddings.js";
import { fromGeminiEmbeddings } from "../src/translate/gemini-embeddings.js";
import { fromVertexEmbeddings } from "../src/translate/vertex-embeddings.js";

// The token counts embedding providers report are taken as chat's are: at
// most 2^28, a negative one as none. Uncapped, 2^32 + 3 reached the ledger as
// its low 32 bits (or as a number Postgres refused), priced whole.
const MOST = 2 ** 28;
const body = { model: "embedder", input: ["a", "b"] };

describe("embedding providers' token counts", () => {
  it("holds Bedrock Titan's count of a text to 2^28, and a negative one to none", () => {
    expect(titanVector({ embedding: [0.5], inputTextTokenCount: 2 ** 32 + 3 }).tokens).toBe(MOST);
    expect(titanVector({ embedding: [0.5], inputTextTokenCount: -5 }).tokens).toBe(0);
  });

  it("holds Vertex AI's sum over its predictions to 2^28, each count and the whole", () => {
    const prediction = (tokens: number) => ({ embeddings: { values: [0.5], statistics: { token_count: tokens } } });
    const negative = fromVertexEmbeddings([{ predictions: [prediction(-9), prediction(4)] }], body, "text-embedding-005");
    expect(negative.usage?.promptTokens).toBe(4);
    const big = fromVertexEmbeddings([{ predictions: [prediction(2 ** 27 + 1)] }, { predictions: [prediction(2 ** 27 + 1)] }], body, "text-embedding-005");
    expect(big.usage?.promptTokens).toBe(MOST);
    expect(big.response["usage"]).toEqual({ prompt_tokens: MOST, total_tokens: MOST });
  });

  it("holds Gemini's promptTokenCount to 2^28", () => {
    const list = fromGeminiEmbeddings({ embeddings: [{ values: [0.5] }], usageMetadata: { promptTokenCount: 2 ** 32 + 3 } }, body, "gemini-embedding-001");
    expect(list.usage?.promptTokens).toBe(MOST);
  });
});
