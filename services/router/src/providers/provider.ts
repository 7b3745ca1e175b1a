import type { Deployment } from "../config/deployment.js";

/** A parsed OpenAI request body (chat completion); the adapter owns translation. */
export type OpenAIBody = Record<string, unknown>;

export interface ProviderCall {
  deployment: Deployment;
  body: OpenAIBody;
  /** Aborts on client disconnect or timeout. */
  signal: AbortSignal;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

export interface ChatResult {
  /** An OpenAI chat.completion object. */
  response: Record<string, unknown>;
  usage: Usage | undefined;
}

/**
 * Speaks one provider's wire format. Requests come in, and results go out, in
 * OpenAI's shapes. Failures are ProviderErrors.
 */
export interface ProviderAdapter {
  chat(call: ProviderCall): Promise<ChatResult>;
  /**
   * Resolves once the provider has accepted the request (so failures before
   * the first byte can still be retried elsewhere), to OpenAI chunk objects.
   * The stream always asks the provider for usage.
   */
  chatStream(call: ProviderCall): Promise<AsyncIterable<Record<string, unknown>>>;
}

/** A provider's failure, in OpenAI's terms, with nothing secret in its message. */
export class ProviderError extends Error {
  override name = "ProviderError";

  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
