import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { Json } from "./providers/provider.js";

// Body fields that are the gateway's (LiteLLM's) and no provider's: the
// response cache's controls, LiteLLM's metadata, the request's tags, its
// session, retries, timeouts and fallbacks. A provider may refuse a field it
// does not know, so they are not sent on.
const GATEWAY_FIELDS = [
  "cache",
  "litellm_metadata",
  "tags",
  "litellm_session_id",
  "num_retries",
  "timeout",
  "stream_timeout",
  "fallbacks",
  "mock_testing_fallbacks",
  "disable_fallbacks",
];
// On OpenAI's other APIs `metadata` is LiteLLM's own too (tags, user_id and
// the like, which LiteLLM never sends on: OpenAI takes only strings there).
// The Responses API and Anthropic's Messages have a metadata of their own.
const WITH_METADATA = [...GATEWAY_FIELDS, "metadata"];

/** The body without the gateway's own fields; the same object when it has none. */
export function withoutGatewayFields(body: Json, callType: CallType): Json {
  const fields = callType === CallType.RESPONSES || callType === CallType.MESSAGES ? GATEWAY_FIELDS : WITH_METADATA;
  if (!fields.some((name) => name in body)) return body;
  const sent: Json = {};
  for (const name in body) if (!fields.includes(name)) sent[name] = body[name];
  return sent;
}
