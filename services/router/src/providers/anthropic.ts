import { withFields } from "@gateway/common";
import { ANTHROPIC_CHAT_PARAMS, toAnthropicRequest } from "../translate/anthropic-request.js";
import { chunksFromAnthropic, fromAnthropicMessage, streamError } from "../translate/anthropic-response.js";
import { fromAnthropicUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { eventJson, incompleteStream, postJson, readEvents, readJsonObject, scrub } from "./http.js";
import type { Json, NamedEvent, ProviderAdapter, ProviderCall } from "./provider.js";

const ANTHROPIC_API_BASE = "https://api.anthropic.com";
const ANTHROPIC_VERSION = "2023-06-01";
/** Client headers passed on to Anthropic: opting in to beta features is the client's call. */
const FORWARDED_HEADERS = ["anthropic-beta"];

const endpoint = perDeployment((d) => {
  const base = d.apiBase ?? ANTHROPIC_API_BASE;
  // api_base may be the host, its /v1, or the full endpoint.
  const url = base.endsWith("/v1/messages") ? base : base.endsWith("/v1") ? `${base}/messages` : `${base}/v1/messages`;
  const headers: Record<string, string> = { "anthropic-version": ANTHROPIC_VERSION };
  if (d.apiKey) headers["x-api-key"] = d.apiKey;
  return { url, headers };
});

async function post(call: ProviderCall, body: Json) {
  const d = call.deployment;
  const { url, headers } = endpoint(d);
  let sent = headers;
  for (const name of FORWARDED_HEADERS) {
    const value = call.headers[name];
    if (value !== undefined) sent = { ...sent, [name]: value };
  }
  return postJson("anthropic", { url, headers: sent, body, call, secret: d.apiKey });
}

async function events(call: ProviderCall, body: Json): Promise<AsyncIterable<NamedEvent>> {
  const response = await post(call, withFields(body, { stream: true }));
  return namedEvents(response, call);
}

/** The stream's events as they came, ending at message_stop; an error event or an early end throws. */
async function* namedEvents(response: Awaited<ReturnType<typeof postJson>>, call: ProviderCall): AsyncGenerator<NamedEvent> {
  const secret = call.deployment.apiKey;
  let stopped = false;
  for await (const event of readEvents(response, "anthropic", call)) {
    // Read to the end after message_stop, so the connection can be reused.
    if (stopped) continue;
    const json = eventJson(event.data, "anthropic");
    const name = event.event ?? String(json["type"]);
    if (name === "error") throw streamError(json, (text) => scrub(text, secret));
    yield { name, data: event.data, json };
    stopped = name === "message_stop";
  }
  if (!stopped) throw incompleteStream("anthropic");
}

/** Anthropic's Messages API: OpenAI chat translated both ways, and Messages requests passed through. */
export const anthropicAdapter: ProviderAdapter = {
  chatParams: ANTHROPIC_CHAT_PARAMS,

  async chat(call) {
    const d = call.deployment;
    const response = await post(call, toAnthropicRequest(call.body, d.providerModel, false));
    return fromAnthropicMessage(await readJsonObject(response, "anthropic", call.signal));
  },

  async chatStream(call) {
    const d = call.deployment;
    const stream = await events(call, toAnthropicRequest(call.body, d.providerModel, true));
    return chunksFromAnthropic(stream);
  },

  async messages(call) {
    const response = await post(call, { ...call.body, model: call.deployment.providerModel });
    const message = await readJsonObject(response, "anthropic", call.signal);
    return { response: message, usage: fromAnthropicUsage(message["usage"]) };
  },

  messagesStream: (call) => events(call, { ...call.body, model: call.deployment.providerModel }),
};
