import { checkMessageList, checkMessagesContent } from "./message-list.js";
import { checkMessagesParams } from "./messages-params.js";

/**
 * Throws an InvalidArgument error, naming the field as Anthropic does, for
 * a Messages body Anthropic would refuse. Shared so that /v1/messages (the
 * router, for every deployment) and /v1/messages/count_tokens (the edge,
 * which counts without a call) refuse the same bodies.
 */
export function validateMessagesBody(body: Record<string, unknown>): void {
  checkMessageList(body["messages"], "anthropic");
  checkMessagesContent(body["system"], body["messages"] as { content?: unknown }[]);
  checkMessagesParams(body);
}
