import type { ConverseEvent } from "../../translate/converse-response.js";
import type { StreamDecoder } from "../http.js";
import { ProviderError, type Json } from "../provider.js";
import { EventStreamError, EventStreamReader } from "./event-stream.js";

// ConverseStream's answer: AWS event-stream frames, each an event (its
// `:event-type` and a JSON payload) or an exception (its `:exception-type`
// and a message), the status being 200 by then.

const STATUS_BY_EXCEPTION: Record<string, number> = {
  validationException: 400,
  accessDeniedException: 403,
  resourceNotFoundException: 404,
  modelTimeoutException: 408,
  throttlingException: 429,
  serviceQuotaExceededException: 429,
  internalServerException: 500,
  modelStreamErrorException: 502,
  serviceUnavailableException: 503,
};

const TYPE_BY_STATUS: Record<number, string> = { 400: "invalid_request_error", 403: "permission_error", 404: "not_found_error", 408: "timeout", 429: "rate_limit_error" };

const decoder = new TextDecoder();

function payloadJson(payload: Uint8Array): Json {
  try {
    const value: unknown = JSON.parse(decoder.decode(payload));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Json;
  } catch {
    // Not JSON: refused below.
  }
  throw new ProviderError("bedrock sent a stream event that is not a JSON object", 502, "api_error");
}

/** Cuts ConverseStream's bytes into its events; an exception frame, or bytes that are not frames, throw a ProviderError. */
export class ConverseEventReader implements StreamDecoder<ConverseEvent> {
  private readonly frames = new EventStreamReader();

  /** `scrubbed` takes secrets out of the provider's messages. */
  constructor(private readonly scrubbed: (text: string) => string) {}

  get pending(): number {
    return this.frames.pending;
  }

  push(bytes: Uint8Array): ConverseEvent[] {
    let messages;
    try {
      messages = this.frames.push(bytes);
    } catch (err) {
      if (err instanceof EventStreamError) throw new ProviderError(`bedrock sent a broken stream (${err.message})`, 502, "api_error");
      throw err;
    }
    const events: ConverseEvent[] = [];
    for (const { headers, payload } of messages) {
      if (headers[":message-type"] === "exception") {
        const kind = String(headers[":exception-type"]);
        const status = STATUS_BY_EXCEPTION[kind] ?? 500;
        const message = this.scrubbed(String(payloadJson(payload)["message"] ?? kind));
        const failure = new ProviderError(`bedrock error: ${message}`, status, TYPE_BY_STATUS[status] ?? "api_error");
        // The events read with it came first: they go on before it (the exception ends the stream).
        if (events.length === 0) throw failure;
        events.push({ type: "exception", json: {}, failure });
        break;
      }
      events.push({ type: String(headers[":event-type"]), json: payloadJson(payload) });
    }
    return events;
  }

  /** A frame cut short is the connection's end, which the stream's own end check reports. */
  end(): ConverseEvent[] {
    return [];
  }
}
