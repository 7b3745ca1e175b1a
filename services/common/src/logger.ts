import { pino, type Logger } from "pino";

export type { Logger };

// Secrets that must never reach a log line, wherever they appear in a logged object.
const REDACT = [
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers[\"x-api-key\"]",
  "api_key",
  "*.api_key",
  "master_key",
  "*.master_key",
  "key",
  "*.key",
];

export function createLogger(name: string, level = process.env["LOG_LEVEL"] ?? "info"): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: "[redacted]" } });
}
