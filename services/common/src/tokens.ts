// A local token estimate for when a provider reports no usage: about four
// characters a token for English text, as the providers' own guides say.
const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return tokensForChars(text.length);
}

/** The estimate for a text of `chars` characters, for text counted as it streams rather than kept. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/** The text of OpenAI chat messages, for estimating their tokens. */
export function messagesText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  let text = "";
  for (const m of messages) {
    const content = (m as { content?: unknown } | null)?.content;
    if (typeof content === "string") text += content;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const t = (part as { text?: unknown } | null)?.text;
        if (typeof t === "string") text += t;
      }
    }
  }
  return text;
}

/**
 * A count as the uint64 fields that carry a call's tokens between services
 * take it (Finished, ReleaseRequest.total_tokens): a whole number, as the
 * uint32 they replaced kept, and never a throw, since BigInt refuses a
 * fraction (a provider may report one) and these are written mid-answer.
 */
export function tokensOnWire(count: number): bigint {
  return Number.isFinite(count) && count > 0 ? BigInt(Math.trunc(count)) : 0n;
}
