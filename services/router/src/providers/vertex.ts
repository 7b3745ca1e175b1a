import { withFields } from "@gateway/common";
import { anthropicAt } from "./anthropic.js";
import { perDeployment } from "./endpoint.js";
import { geminiAt } from "./gemini.js";
import { accessToken } from "./google/access-tokens.js";
import type { ProviderAdapter, ProviderCall } from "./provider.js";

// Google Vertex AI: Gemini models in the Gemini API's format, and Anthropic's
// Claude models in the Messages format (rawPredict), both with an OAuth access
// token for the deployment's Google credentials.

const PROVIDER = "vertex_ai";
// The Messages API version Vertex's Claude models take, in the body.
const ANTHROPIC_VERSION = "vertex-2023-10-16";

const isClaude = (model: string) => model.startsWith("claude");
const isGemini = (model: string) => model.startsWith("gemini");

const models = perDeployment((d) => {
  const publisher = isClaude(d.providerModel) ? "anthropic" : "google";
  return `${d.vertex!.publishers}/${publisher}/models/${d.providerModel}`;
});

/** The Authorization header for the deployment's credentials, and the token to scrub. */
async function authorization(call: ProviderCall): Promise<{ headers: Record<string, string>; secret: string }> {
  const token = await accessToken(call.deployment.vertex!.credentials!);
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
 * Vertex AI's Gemini models; its Claude models (forModel) speak Anthropic's
 * Messages API, so Anthropic clients reach them natively.
 */
export const vertexAdapter: ProviderAdapter = {
  ...gemini,
  check(d) {
    if (d.vertex!.problem !== undefined) return d.vertex!.problem;
    const model = d.providerModel;
    if (!model.includes("*") && !isClaude(model) && !isGemini(model)) return `${model}: vertex_ai/ deployments serve gemini-* and claude-* models here`;
    return undefined;
  },
  forModel: (model) => (isClaude(model) ? claude : undefined),
};
