import type { Json } from "./providers/provider.js";

// Body fields that are the gateway's (LiteLLM's) and no provider's: the
// response cache's controls and LiteLLM's metadata. A provider may refuse a
// field it does not know, so they are not sent on.
const GATEWAY_FIELDS = ["cache", "litellm_metadata"];

/** The body without the gateway's own fields; the same object when it has none. */
export function withoutGatewayFields(body: Json): Json {
  if (!GATEWAY_FIELDS.some((name) => name in body)) return body;
  const sent: Json = {};
  for (const name in body) if (!GATEWAY_FIELDS.includes(name)) sent[name] = body[name];
  return sent;
}
