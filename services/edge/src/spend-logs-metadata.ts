import type { IncomingMessage } from "node:http";
import { Code } from "@connectrpc/connect";
import { gatewayError, SPEND_LOGS_METADATA_MAX_BYTES } from "@gateway/common";
import { objectOf } from "./end-user.js";

const HEADER = "x-litellm-spend-logs-metadata";

function invalid(param: string): Error {
  const message = `${param} must be a JSON object of at most ${SPEND_LOGS_METADATA_MAX_BYTES} bytes`;
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/**
 * What a client asks to keep with a request's spend log (LiteLLM's
 * spend_logs_metadata): the x-litellm-spend-logs-metadata header (a JSON
 * object), else the body's metadata.spend_logs_metadata (or
 * litellm_metadata's); as JSON text, "" when none. Anything but an object of
 * at most SPEND_LOGS_METADATA_MAX_BYTES is a 400.
 */
export function spendLogsMetadataOf(req: IncomingMessage, body: Record<string, unknown>): string {
  const header = req.headers[HEADER];
  const [value, param] =
    typeof header === "string"
      ? [objectOf(header) ?? header, HEADER]
      : [objectOf(body["metadata"])?.["spend_logs_metadata"] ?? objectOf(body["litellm_metadata"])?.["spend_logs_metadata"], "metadata.spend_logs_metadata"];
  if (value === undefined || value === null) return "";
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(param);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > SPEND_LOGS_METADATA_MAX_BYTES) throw invalid(param);
  return text === "{}" ? "" : text;
}
