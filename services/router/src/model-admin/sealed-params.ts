import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { ConfigError, redactInLogs } from "@gateway/common";

// Parameter names that hold credentials, whatever the provider calls them
// (prices per token and the name of a credential_list entry are not):
// /model/info leaves them out, and Postgres keeps them sealed.
const SECRET = /key$|secret|password|credential(?!_name$)|(?<!_per_)token$|^(extra_)?headers$/i;

const SEALED = "sealed:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSecretParam(name: string): boolean {
  return SECRET.test(name);
}

const REDACTED = "[redacted]";

/** A URL as it may be shown: no user:password, and the values of query parameters named like credentials (?key=, ?api_key=, …) redacted. */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!hasCredentials(u)) return url;
    u.username = "";
    u.password = "";
    for (const name of new Set(u.searchParams.keys())) if (isSecretParam(name)) u.searchParams.set(name, REDACTED);
    return u.toString();
  } catch {
    return url;
  }
}

function hasCredentials(u: URL): boolean {
  return u.username !== "" || u.password !== "" || [...u.searchParams.keys()].some(isSecretParam);
}

/** An api_base holding credentials (user:password, a key in its query) is kept sealed too. */
function urlHoldsCredentials(value: string): boolean {
  try {
    return hasCredentials(new URL(value));
  } catch {
    return false;
  }
}

// "os.environ/NAME" names where a secret is, and stays readable.
const isReference = (value: unknown) => typeof value === "string" && value.startsWith("os.environ/");
const isSealed = (value: unknown) => typeof value === "string" && value.startsWith(SEALED);
const isPlainSecret = (name: string, value: unknown) =>
  (isSecretParam(name) || (name === "api_base" && typeof value === "string" && urlHoldsCredentials(value))) && !isReference(value) && !isSealed(value);

/**
 * Seals a runtime model's secret parameters (provider keys, extra headers)
 * for Postgres, and opens them again: AES-256-GCM under a key derived from
 * LITELLM_SALT_KEY, or else the master key, as LiteLLM encrypts what it
 * stores. Values stored before sealing was there are read as they are, and
 * sealed at the next start (ModelStore.sealStored).
 */
export class ParamSeal {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHash("sha256").update(secret).digest();
    redactInLogs([secret]);
  }

  seal(params: Record<string, unknown>): Record<string, unknown> {
    const sealed: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) sealed[name] = isPlainSecret(name, value) ? this.sealValue(value) : value;
    return sealed;
  }

  /** Whether params hold a secret in plain text (stored before sealing was there). */
  unsealed(params: Record<string, unknown>): boolean {
    return Object.entries(params).some(([name, value]) => isPlainSecret(name, value));
  }

  /** Throws a ConfigError when a value was sealed under another key (LITELLM_SALT_KEY or the master key changed). */
  open(params: Record<string, unknown>, where = "litellm_params"): Record<string, unknown> {
    const opened: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(params)) {
      opened[name] = isSealed(value) ? this.openValue(`${where}.${name}`, (value as string).slice(SEALED.length)) : value;
    }
    return opened;
  }

  private sealValue(value: unknown): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const text = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), text]).toString("base64");
  }

  private openValue(path: string, sealed: string): unknown {
    const bytes = Buffer.from(sealed, "base64");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return JSON.parse(text.toString("utf8"));
    } catch {
      throw new ConfigError(`${path} was stored under another LITELLM_SALT_KEY (or master key, when none is set) and cannot be read`);
    }
  }
}
