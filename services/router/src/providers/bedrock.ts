import { randomUUID } from "node:crypto";
import { withFields } from "@gateway/common";
import type { Dispatcher } from "undici";
import type { Deployment } from "../config/deployment.js";
import { ANTHROPIC_CHAT_PARAMS } from "../translate/anthropic-request.js";
import { chunksFromAnthropic, fromAnthropicMessage } from "../translate/anthropic-response.js";
import { BEDROCK_EMBEDDING_PARAMS, bedrockEmbedder, cohereRequest, cohereVectors, titanRequest, titanVector } from "../translate/bedrock-embeddings.js";
import { badRequest } from "../translate/content.js";
import { toConverseRequest } from "../translate/converse-request.js";
import { anthropicEventsFromConverse, fromConverseResponse } from "../translate/converse-response.js";
import { embeddingInputs, embeddingList } from "../translate/embedding-list.js";
import { fromAnthropicUsage } from "../translate/usage.js";
import { anthropicRequest, answersAsJson } from "./anthropic.js";
import { assumedRole } from "./aws/assumed-role.js";
import { ConverseEventReader } from "./aws/converse-events.js";
import { signedHeaders, type AwsCredentials } from "./aws/sigv4.js";
import { perDeployment } from "./endpoint.js";
import { beforeAbort, postJson, readJsonObject, readStream, scrubberFor } from "./http.js";
import { inGroups } from "./in-groups.js";
import type { Json, NamedEvent, ProviderAdapter, ProviderCall } from "./provider.js";

const PROVIDER = "bedrock";

// Model ids may say which of Bedrock's APIs LiteLLM should call; this
// gateway calls Converse for every model.
const API_PREFIX = /^(?:converse|invoke)\//;

const endpoint = perDeployment((d) => {
  const modelId = d.providerModel.replace(API_PREFIX, "");
  const base = `${d.aws!.endpoint}/model/${encodeURIComponent(modelId)}`;
  return { modelId, converse: `${base}/converse`, stream: `${base}/converse-stream`, invoke: `${base}/invoke` };
});

/** What signs the call: the deployment's keys, the role's temporary credentials, or nothing (a Bedrock API key). */
function signingCredentials(call: ProviderCall): AwsCredentials | Promise<AwsCredentials> | undefined {
  const { credentials, role } = call.deployment.aws!;
  return role === undefined ? credentials : beforeAbort(assumedRole(role), PROVIDER, call.signal);
}

/** The provider's answer, and the secret it was called with (to scrub from what it says). */
async function post(call: ProviderCall, url: string, body: Json): Promise<{ response: Dispatcher.ResponseData; secret: string | undefined }> {
  const d = call.deployment;
  const credentials = await signingCredentials(call);
  if (credentials === undefined) {
    return { response: await postJson(PROVIDER, { url, headers: { authorization: `Bearer ${d.apiKey}` }, body, call, secret: d.apiKey }), secret: d.apiKey };
  }
  const { region } = d.aws!;
  const secret = credentials.secretAccessKey;
  const sign = (text: string) => signedHeaders({ method: "POST", url, headers: { "content-type": "application/json" }, body: text, region, service: "bedrock", credentials });
  return { response: await postJson(PROVIDER, { url, headers: {}, body, call, secret, sign }), secret };
}

/** Anthropic's beta features, which Bedrock takes among the model's own fields. */
function withBeta(body: Json, call: ProviderCall): Json {
  const beta = call.headers["anthropic-beta"];
  return beta === undefined ? body : withFields(body, { anthropic_beta: beta.split(",").map((name) => name.trim()) });
}

/** Whether a Bedrock model is Anthropic's Claude (a foundation model's id, an inference profile's, or an ARN naming one). */
const isClaude = (d: Deployment): boolean => d.providerModel.includes("anthropic.") || d.providerModel.includes("claude");

/** What refuses a chat request Converse cannot take, as converse-request.ts names it: Amazon's, Meta's and others' models, not only Anthropic's. */
const CONVERSE_MODELS = "bedrock models";

/** A name for an answer, which Converse does not give. */
const messageId = () => `msg_bdrk_${randomUUID().replaceAll("-", "")}`;

async function message(call: ProviderCall, anthropic: Json, withMaxTokens: boolean): Promise<Json> {
  const d = call.deployment;
  const { response } = await post(call, endpoint(d).converse, toConverseRequest(withBeta(anthropic, call), withMaxTokens, isClaude(d)));
  return fromConverseResponse(await readJsonObject(response, PROVIDER, call.signal), d.providerModel, messageId());
}

async function events(call: ProviderCall, anthropic: Json, withMaxTokens: boolean): Promise<AsyncIterable<NamedEvent>> {
  const d = call.deployment;
  const { response, secret } = await post(call, endpoint(d).stream, toConverseRequest(withBeta(anthropic, call), withMaxTokens, isClaude(d)));
  const converse = readStream(response, PROVIDER, call, new ConverseEventReader(scrubberFor(secret, d)));
  return anthropicEventsFromConverse(converse, d.providerModel, messageId());
}

// Titan embeds one text a call: a list goes out this many calls at a time.
const TITAN_CALLS_AT_ONCE = 8;

/** The vector of each text from Titan, in order, and the tokens Bedrock counted. */
async function titanEmbeddings(call: ProviderCall, url: string, modelId: string, texts: string[]): Promise<{ vectors: number[][]; tokens: number | undefined }> {
  const answers = await inGroups(texts, TITAN_CALLS_AT_ONCE, async (text) =>
    titanVector(await readJsonObject((await post(call, url, titanRequest(text, call.body, modelId))).response, PROVIDER, call.signal)),
  );
  const counted = answers.filter((answer) => answer.tokens !== undefined);
  return { vectors: answers.map((answer) => answer.vector), tokens: counted.length > 0 ? counted.reduce((sum, answer) => sum + answer.tokens!, 0) : undefined };
}

/** Cohere's vectors for the texts, with the tokens Bedrock counted (in a header: Cohere's body has none). */
async function cohereEmbeddings(call: ProviderCall, url: string, texts: string[]): Promise<{ vectors: number[][]; tokens: number | undefined }> {
  const { response } = await post(call, url, cohereRequest(texts, call.body));
  const tokens = Number(response.headers["x-amzn-bedrock-input-token-count"]);
  return { vectors: cohereVectors(await readJsonObject(response, PROVIDER, call.signal)), tokens: Number.isFinite(tokens) ? tokens : undefined };
}

/**
 * Whether an OpenAI request's max_tokens goes to Bedrock: only when the
 * client set one (or thinking needs one above its budget). Otherwise the
 * model's own default applies, as the 4096 Anthropic needs may be more than
 * another vendor's model takes.
 */
function setsMaxTokens(body: Json, anthropic: Json): boolean {
  return body["max_tokens"] != null || body["max_completion_tokens"] != null || anthropic["thinking"] !== undefined;
}

/**
 * AWS Bedrock Runtime's Converse API, signed with SigV4 or called with a
 * Bedrock API key: OpenAI chat goes through the Anthropic Messages
 * translation to Converse and back, and Messages requests are answered
 * natively; embeddings from Amazon's Titan and Cohere's models (InvokeModel).
 * Text completions and the Responses API go through chat.
 */
export const bedrockAdapter: ProviderAdapter = {
  chatParams: ANTHROPIC_CHAT_PARAMS,

  check: (d) => d.aws!.problem,

  async chat(call) {
    const anthropic = anthropicRequest(call, false, CONVERSE_MODELS);
    return fromAnthropicMessage(await message(call, anthropic, setsMaxTokens(call.body, anthropic)), answersAsJson(call));
  },

  async chatStream(call) {
    const anthropic = anthropicRequest(call, false, CONVERSE_MODELS);
    return chunksFromAnthropic(await events(call, anthropic, setsMaxTokens(call.body, anthropic)), answersAsJson(call));
  },

  async messages(call) {
    const response = await message(call, call.body, true);
    return { response, usage: fromAnthropicUsage(response["usage"]) };
  },

  messagesStream: (call) => events(call, call.body, true),

  embeddingParams: BEDROCK_EMBEDDING_PARAMS,

  async embeddings(call) {
    const d = call.deployment;
    const { modelId, invoke } = endpoint(d);
    const embedder = bedrockEmbedder(modelId);
    if (embedder === undefined) throw badRequest(`${modelId}: embeddings are served for Bedrock's amazon.titan-embed-text-* and cohere.embed-* models`, "model");
    const texts = embeddingInputs(call.body["input"], PROVIDER);
    const { vectors, tokens } = embedder === "titan" ? await titanEmbeddings(call, invoke, modelId, texts) : await cohereEmbeddings(call, invoke, texts);
    return embeddingList(vectors, call.body, d.providerModel, tokens);
  },
};
