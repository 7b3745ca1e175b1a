import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

// Fields that hold secrets, wherever they appear in a logged object (pino's
// wildcards match one level, hence the deeper spellings).
const REDACT = [
  "authorization",
  "*.authorization",
  "*.*.authorization",
  "headers.authorization",
  'headers["x-api-key"]',
  'headers["api-key"]',
  "*.headers.authorization",
  '*.headers["x-api-key"]',
  '*.headers["api-key"]',
  "api_key",
  "*.api_key",
  "*.*.api_key",
  "apiKey",
  "*.apiKey",
  "master_key",
  "*.master_key",
  "key",
  "*.key",
];

// A last line of defence for secrets inside strings (an upstream error
// message, a URL), which field redaction cannot see: the configured secret
// values themselves, OpenAI-style keys, and bearer tokens.
const secrets = new Set<string>();
const KEY_SHAPED = /\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}/g;
const BEARER = /\b([Bb]earer)\s+[^\s"\\]{8,}/g;
const SHORTEST_SECRET = 8;

/** Values that must never appear in a log line (the master key, provider keys); short ones are ignored. */
export function redactInLogs(values: Iterable<string>): void {
  for (const value of values) if (value.length >= SHORTEST_SECRET) secrets.add(value);
}

function scrub(line: string): string {
  let clean = line;
  for (const secret of secrets) if (clean.includes(secret)) clean = clean.replaceAll(secret, "[redacted]");
  return clean.replace(KEY_SHAPED, "[redacted]").replace(BEARER, "$1 [redacted]");
}

/** A JSON logger; `destination` defaults to stdout. */
export function createLogger(name: string, level = process.env["LOG_LEVEL"] ?? "info", destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    redact: { paths: REDACT, censor: "[redacted]" },
    hooks: { streamWrite: scrub },
  };
  return destination ? pino(options, destination) : pino(options);
}
