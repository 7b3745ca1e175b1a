import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";

// How each API names a field in its errors: OpenAI `messages[0].role must…`,
// Anthropic `messages.0.role: …`.
const STYLES = {
  openai: { entry: (i: number) => `messages[${i}]`, says: " " },
  anthropic: { entry: (i: number) => `messages.${i}`, says: ": " },
};

/**
 * Throws an InvalidArgument error unless `messages` is a non-empty list of
 * objects that each name their role, as OpenAI and Anthropic both require:
 * anything else would only come back from the provider as its 400, or trip
 * the gateway's own reading of the messages (token estimates, translation).
 */
export function checkMessageList(messages: unknown, api: keyof typeof STYLES): void {
  const { entry, says } = STYLES[api];
  if (!Array.isArray(messages) || messages.length === 0) throw invalid(`messages${says}must be a non-empty array`);
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw invalid(`${entry(i)}${says}must be an object`);
    if (typeof (m as { role?: unknown }).role !== "string") throw invalid(`${entry(i)}.role${says}must be a string`);
  }
}

function invalid(message: string) {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param: "messages" });
}
