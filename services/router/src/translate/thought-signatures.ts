import { randomUUID } from "node:crypto";
import { isGemini3OrLater } from "./gemini-generation.js";

// Gemini's thought signatures: thinking Gemini models sign the function
// calls they make, and Gemini 3 and later refuse a conversation that sends
// a call back without its signature. OpenAI's format has no place for one,
// so it travels in the tool call's id, which every client sends back with
// the call and its result.

const SIGNED = "__thought__";
/** Google's documented stand-in for a call whose signature is lost (or that another model made). */
const SKIP_VALIDATOR = "skip_thought_signature_validator";

/** An OpenAI tool call id for a Gemini call (Gemini names none), carrying its signature (base64) when it has one. */
export function toolCallId(signature: string | undefined): string {
  const id = `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  // base64url: ids keep to letters, digits, "-" and "_", as Anthropic wants of tool_use ids.
  return signature ? `${id}${SIGNED}${Buffer.from(signature, "base64").toString("base64url")}` : id;
}

/**
 * The signature to send with a call back to Gemini: the one its id carries,
 * or, for the first call of a turn to a model that requires one, the
 * stand-in (later calls of a turn are unsigned, as Gemini made them).
 */
export function signatureFor(id: unknown, firstOfTurn: boolean, providerModel: string): string | undefined {
  const at = typeof id === "string" ? id.indexOf(SIGNED) : -1;
  if (at >= 0) return Buffer.from((id as string).slice(at + SIGNED.length), "base64url").toString("base64");
  return firstOfTurn && isGemini3OrLater(providerModel) ? SKIP_VALIDATOR : undefined;
}
