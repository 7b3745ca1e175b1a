import { withFields } from "@gateway/common";
import type { Dispatcher } from "undici";
import { ANTHROPIC_CHAT_PARAMS, toAnthropicRequest } from "../translate/anthropic-request.js";
import { chunksFromAnthropic, fromAnthropicMessage, streamError } from "../translate/anthropic-response.js";
import { fitConversation } from "../translate/fit-conversation.js";
import { jsonOutputTool } from "../translate/json-output-tool.js";
import { fromAnthropicUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { eventJson, fieldsOf, getJson, incompleteStream, postJson, readEvents, readJsonObject, scrubberFor } from "./http.js";
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
  return { url, modelsUrl: `${url.slice(0, -"/messages".length)}/models`, headers };
});

// Pages of Anthropic's model list read, at its largest page size: far more models than it has.
const MODEL_PAGE = 1000;
const MOST_MODEL_PAGES = 10;

/** A chat call's Anthropic Messages request, fitted to what Anthropic takes under modify_params; `models` as toAnthropicRequest's. */
export function anthropicRequest(call: ProviderCall, stream: boolean, models?: string): Json {
  const request = toAnthropicRequest(call.body, call.deployment.providerModel, stream, call.deployment.dropParams, models);
  return call.deployment.modifyParams ? fitConversation(request) : request;
}

/** Whether a chat call's answer is the input of the JSON tool its response_format asked for (json-output-tool.ts). */
export function answersAsJson(call: ProviderCall): boolean {
  return jsonOutputTool(call.body, call.deployment.dropParams) !== undefined;
}

/** Where one Messages request goes, as whom, with what body; `secret` is scrubbed from what comes back. */
export interface MessagesTarget {
  url: string;
  headers: Record<string, string>;
  body: Json;
  secret: string | undefined;
}

/** Where a host of Anthropic's models takes a Messages request (`body`, with the model in it). */
export type MessagesHost = (call: ProviderCall, body: Json, stream: boolean) => MessagesTarget | Promise<MessagesTarget>;

/**
 * Anthropic's Messages API at a host of Anthropic's models: OpenAI chat
 * translated both ways, and Messages requests passed through.
 */
export function anthropicAt(provider: string, host: MessagesHost): ProviderAdapter {
  async function post(call: ProviderCall, body: Json, stream: boolean) {
    const target = await host(call, body, stream);
    let headers = target.headers;
    for (const name of FORWARDED_HEADERS) {
      const value = call.headers[name];
      if (value !== undefined) headers = { ...headers, [name]: value };
    }
    const response = await postJson(provider, { url: target.url, headers, body: target.body, call, secret: target.secret });
    return { response, secret: target.secret };
  }

  async function events(call: ProviderCall, body: Json): Promise<AsyncIterable<NamedEvent>> {
    const { response, secret } = await post(call, withFields(body, { stream: true }), true);
    return namedEvents(response, call, secret);
  }

  /** The stream's events as they came, ending at message_stop; an error event or an early end throws. */
  async function* namedEvents(response: Dispatcher.ResponseData, call: ProviderCall, secret: string | undefined): AsyncGenerator<NamedEvent> {
    let stopped = false;
    for await (const event of readEvents(response, provider, call)) {
      // Read to the end after message_stop, so the connection can be reused.
      if (stopped) continue;
      const json = eventJson(event.data, provider);
      const name = event.event ?? String(json["type"]);
      if (name === "error") throw streamError(json, scrubberFor(secret, call.deployment));
      yield { name, data: event.data, json };
      stopped = name === "message_stop";
    }
    if (!stopped) throw incompleteStream(provider);
  }

  async function message(call: ProviderCall, body: Json): Promise<Json> {
    const { response } = await post(call, body, false);
    return readJsonObject(response, provider, call.signal);
  }

  return {
    chatParams: ANTHROPIC_CHAT_PARAMS,

    async chat(call) {
      return fromAnthropicMessage(await message(call, anthropicRequest(call, false)), answersAsJson(call));
    },

    async chatStream(call) {
      return chunksFromAnthropic(await events(call, anthropicRequest(call, true)), answersAsJson(call));
    },

    async messages(call) {
      const response = await message(call, withFields(call.body, { model: call.deployment.providerModel }));
      return { response, usage: fromAnthropicUsage(response["usage"]) };
    },

    messagesStream: (call) => events(call, withFields(call.body, { model: call.deployment.providerModel })),
  };
}

/** Anthropic's own API, with an API key. */
export const anthropicAdapter: ProviderAdapter = {
  ...anthropicAt("anthropic", (call, body) => {
    const d = call.deployment;
    const { url, headers } = endpoint(d);
    return { url, headers, body, secret: d.apiKey };
  }),

  async listModels(d, signal) {
    const { modelsUrl, headers } = endpoint(d);
    const names: string[] = [];
    let after = "";
    for (let page = 0; page < MOST_MODEL_PAGES; page++) {
      const list = await getJson("anthropic", d, `${modelsUrl}?limit=${MODEL_PAGE}${after && `&after_id=${encodeURIComponent(after)}`}`, headers, signal);
      names.push(...fieldsOf(list["data"], "id"));
      after = typeof list["last_id"] === "string" ? list["last_id"] : "";
      if (list["has_more"] !== true || after === "") break;
    }
    return names;
  },
};
