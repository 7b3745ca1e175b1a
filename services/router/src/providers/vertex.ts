import { withFields } from "@gateway/common";
import { fromVertexEmbeddings, toVertexEmbeddingsRequests, VERTEX_EMBEDDING_PARAMS } from "../translate/vertex-embeddings.js";
import { anthropicAt } from "./anthropic.js";
import { perDeployment } from "./endpoint.js";
import { geminiAt } from "./gemini.js";
import { accessToken } from "./google/access-tokens.js";
import { beforeAbort, postJson, readJsonObject } from "./http.js";
import { inGroups } from "./in-groups.js";
import type { ProviderAdapter, ProviderCall } from "./provider.js";

// Google Vertex AI: Gemini models in the Gemini API's format, Anthropic's
// Claude models in the Messages format (rawPredict), and text embedding
// models by predict, all with an OAuth access token for the deployment's
// Google credentials.

const PROVIDER = "vertex_ai";
// The Messages API version Vertex's Claude models take, in the body.
const ANTHROPIC_VERSION = "vertex-2023-10-16";

const isClaude = (model: string) => model.startsWith("claude");
const isGemini = (model: string) => model.startsWith("gemini");

/** Vertex's text embedding models (text-embedding-005, gemini-embedding-001, …), answered by predict. */
const isEmbedding = (model: string) => model.includes("embedding");
// The texts one predict call takes (gemini-embedding-001 takes one), and the calls made at once.
const TEXTS_PER_PREDICT = 250;
const PREDICTS_AT_ONCE = 8;

const models = perDeployment((d) => {
  const publisher = isClaude(d.providerModel) ? "anthropic" : "google";
  return `${d.vertex!.publishers}/${publisher}/models/${d.providerModel}`;
});

/** The Authorization header for the deployment's credentials, and the token to scrub. */
async function authorization(call: ProviderCall): Promise<{ headers: Record<string, string>; secret: string }> {
  const token = await beforeAbort(accessToken(call.deployment.vertex!.credentials!), PROVIDER, call.signal);
  return { headers: { authorization: `Bearer ${token}` }, secret: token };
}

const gemini = geminiAt(PROVIDER, async (call, stream) => {
  const model = models(call.deployment);
  return { url: stream ? `${model}:streamGenerateContent?alt=sse` : `${model}:generateContent`, ...(await authorization(call)) };
});

const claude = anthropicAt(PROVIDER, async (call, body, stream) => {
  const model = models(call.deployment);
  // The model is in the address, not the body.
  const { model: _model, ...rest } = body;
  return { url: stream ? `${model}:streamRawPredict` : `${model}:rawPredict`, body: withFields(rest, { anthropic_version: ANTHROPIC_VERSION }), ...(await authorization(call)) };
});

/**
 * Vertex AI's Gemini and text embedding models; its Claude models (forModel)
 * speak Anthropic's Messages API, so Anthropic clients reach them natively.
 */
export const vertexAdapter: ProviderAdapter = {
  ...gemini,
  check(d) {
    if (d.vertex!.problem !== undefined) return d.vertex!.problem;
    const model = d.providerModel;
    if (!model.includes("*") && !isClaude(model) && !isGemini(model) && !isEmbedding(model)) {
      return `${model}: vertex_ai/ deployments serve gemini-*, claude-* and text embedding models here`;
    }
    return undefined;
  },
  forModel: (model) => (isClaude(model) ? claude : undefined),
  embeddingParams: VERTEX_EMBEDDING_PARAMS,

  async embeddings(call) {
    const d = call.deployment;
    const { headers, secret } = await authorization(call);
    const url = `${models(d)}:predict`;
    const requests = toVertexEmbeddingsRequests(call.body, d.providerModel.startsWith("gemini-embedding") ? 1 : TEXTS_PER_PREDICT);
    const answers = await inGroups(requests, PREDICTS_AT_ONCE, async (body) => readJsonObject(await postJson(PROVIDER, { url, headers, body, call, secret }), PROVIDER, call.signal));
    return fromVertexEmbeddings(answers, call.body, d.providerModel);
  },
};
