import { randomUUID } from "node:crypto";
import { withFields } from "@gateway/common";
import { awsProblem } from "../config/aws-settings.js";
import { ANTHROPIC_CHAT_PARAMS, toAnthropicRequest } from "../translate/anthropic-request.js";
import { chunksFromAnthropic, fromAnthropicMessage } from "../translate/anthropic-response.js";
import { toConverseRequest } from "../translate/converse-request.js";
import { anthropicEventsFromConverse, fromConverseResponse } from "../translate/converse-response.js";
import { fromAnthropicUsage } from "../translate/usage.js";
import { ConverseEventReader } from "./aws/converse-events.js";
import { signedHeaders } from "./aws/sigv4.js";
import { perDeployment } from "./endpoint.js";
import { postJson, readJsonObject, readStream, scrub } from "./http.js";
import type { Json, NamedEvent, ProviderAdapter, ProviderCall } from "./provider.js";

const PROVIDER = "bedrock";

// Model ids may say which of Bedrock's APIs LiteLLM should call; this
// gateway calls Converse for every model.
const API_PREFIX = /^(?:converse|invoke)\//;

const endpoint = perDeployment((d) => {
  const base = `${d.aws!.endpoint}/model/${encodeURIComponent(d.providerModel.replace(API_PREFIX, ""))}`;
  return { converse: `${base}/converse`, stream: `${base}/converse-stream` };
});

function post(call: ProviderCall, url: string, body: Json) {
  const d = call.deployment;
  const { region, credentials } = d.aws!;
  const secret = credentials?.secretAccessKey ?? d.apiKey;
  if (credentials === undefined) return postJson(PROVIDER, { url, headers: { authorization: `Bearer ${d.apiKey}` }, body, call, secret });
  const sign = (text: string) => signedHeaders({ method: "POST", url, headers: { "content-type": "application/json" }, body: text, region, service: "bedrock", credentials });
  return postJson(PROVIDER, { url, headers: {}, body, call, secret, sign });
}

/** Anthropic's beta features, which Bedrock takes among the model's own fields. */
function withBeta(body: Json, call: ProviderCall): Json {
  const beta = call.headers["anthropic-beta"];
  return beta === undefined ? body : withFields(body, { anthropic_beta: beta.split(",").map((name) => name.trim()) });
}

/** A name for an answer, which Converse does not give. */
const messageId = () => `msg_bdrk_${randomUUID().replaceAll("-", "")}`;

async function message(call: ProviderCall, anthropic: Json, withMaxTokens: boolean): Promise<Json> {
  const d = call.deployment;
  const response = await post(call, endpoint(d).converse, toConverseRequest(withBeta(anthropic, call), withMaxTokens));
  return fromConverseResponse(await readJsonObject(response, PROVIDER, call.signal), d.providerModel, messageId());
}

async function events(call: ProviderCall, anthropic: Json, withMaxTokens: boolean): Promise<AsyncIterable<NamedEvent>> {
  const d = call.deployment;
  const response = await post(call, endpoint(d).stream, toConverseRequest(withBeta(anthropic, call), withMaxTokens));
  const secret = d.aws!.credentials?.secretAccessKey ?? d.apiKey;
  const converse = readStream(response, PROVIDER, call, new ConverseEventReader((text) => scrub(text, secret)));
  return anthropicEventsFromConverse(converse, d.providerModel, messageId());
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
 * natively. Text completions and the Responses API go through chat.
 */
export const bedrockAdapter: ProviderAdapter = {
  chatParams: ANTHROPIC_CHAT_PARAMS,

  check: (d) => awsProblem(d.entry.litellm_params, d.aws!, d.apiKey),

  async chat(call) {
    const anthropic = toAnthropicRequest(call.body, call.deployment.providerModel, false);
    return fromAnthropicMessage(await message(call, anthropic, setsMaxTokens(call.body, anthropic)));
  },

  async chatStream(call) {
    const anthropic = toAnthropicRequest(call.body, call.deployment.providerModel, false);
    return chunksFromAnthropic(await events(call, anthropic, setsMaxTokens(call.body, anthropic)));
  },

  async messages(call) {
    const response = await message(call, call.body, true);
    return { response, usage: fromAnthropicUsage(response["usage"]) };
  },

  messagesStream: (call) => events(call, call.body, true),
};
