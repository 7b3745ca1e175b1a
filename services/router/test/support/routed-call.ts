import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { CALL_HANDLERS } from "../../src/calls.js";
import type { Json } from "../../src/providers/provider.js";
import type { RoutedCall, RoutingTable } from "../../src/routing.js";

/** A chat call as the router's service makes one, on `table`, with nothing asked of it beyond `body`. */
export function routedCall(requestId: string, table: RoutingTable, body: Json): RoutedCall {
  return {
    requestId,
    table,
    handler: CALL_HANDLERS.get(CallType.CHAT_COMPLETIONS)!,
    body,
    headers: {},
    signal: new AbortController().signal,
    estimatedTokens: 0,
    promptBytes: 0,
    maxTokens: 0,
    answers: 0,
    tags: [],
    numRetries: undefined,
    timeoutMs: undefined,
    streamTimeoutMs: undefined,
    fallbacks: [],
    mockFailure: false,
    disableFallbacks: false,
  };
}
