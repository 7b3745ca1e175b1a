import { isSecretParam, withoutCredentials } from "../model-admin/sealed-params.js";

// The names LiteLLM masks the values of when it shows a credential, beside
// those this gateway seals (isSecretParam: extra headers too).
const MASKED_NAME = /authorization|token|key|secret|credentials|password|passwd/i;
const SHOWN_ENDS = 2;
const SHORT = 4;
const HIDDEN = "*****";

/** A secret as LiteLLM shows it: its first and last two characters around four asterisks; a short one as asterisks alone. */
function maskedString(value: string): string {
  if (value.length <= SHORT) return HIDDEN;
  return `${value.slice(0, SHOWN_ENDS)}****${value.slice(-SHOWN_ENDS)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Credential values as /credentials shows them: the values of secret
 * parameters (and every value in an object under one) masked, a string as
 * LiteLLM masks it, anything else (LiteLLM shows it) as asterisks alone; an
 * api_base without the credentials a URL may hold; the rest as they are.
 */
export function maskedValues(values: Record<string, unknown>, allSecret = false): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const secret = allSecret || MASKED_NAME.test(name) || isSecretParam(name);
    if (isObject(value)) shown[name] = maskedValues(value, secret);
    else if (secret && value !== null) shown[name] = typeof value === "string" ? maskedString(value) : HIDDEN;
    else shown[name] = name === "api_base" && typeof value === "string" ? withoutCredentials(value) : value;
  }
  return shown;
}
