/**
 * What the fake provider does with the requests it receives. The object on a
 * running provider is read per request, so tests change it between calls.
 */
export interface Behavior {
  /** Delay before the response headers, on every route. */
  latencyMs: number;
  /** When set, every request waits for it (after latencyMs) before it is answered: a test holds requests at the provider until it lets them go. */
  held?: Promise<void>;
  /** Delay between stream chunks. */
  chunkDelayMs: number;
  /** Fixed assistant text; unset means `Echo: <last user message text>`. */
  reply?: string;
  /** The next N chat/embeddings requests fail (not Google's token endpoint nor AWS STS); decremented per failure. */
  failNext: number;
  /** HTTP status of those failures. */
  failStatus: number;
  /** When set, failures carry a `retry-after` header with this value. */
  retryAfterSeconds?: number;
  /** When set, a stream's socket is destroyed after this many content chunks. */
  breakStreamAfterChunks?: number;
  /**
   * Anthropic and Bedrock only: when set, a stream sends an error after this
   * many content chunks and ends there, as they do when failing after their
   * 200 (Anthropic an `error` event, Bedrock an exception frame).
   */
  streamErrorAfterChunks?: number;
  /** The type of that error (default overloaded_error for Anthropic, throttlingException for Bedrock). */
  streamErrorType?: string;
  /** Never send the stream usage chunk, even when the client asks for it. */
  omitStreamUsage: boolean;
  /**
   * OpenAI and Azure batches: how long a batch stays in_progress after it is
   * created (0: it is completed at once, in the create call's answer). Read
   * when the batch is created; it completes on the first call to the files or
   * batches routes once the time has passed.
   */
  batchDelayMs: number;
  /**
   * When set, requests must carry this key, each format its own way: OpenAI's
   * `authorization: Bearer`, Azure's `api-key`, Anthropic's `x-api-key`,
   * Gemini's `x-goog-api-key`; Bedrock takes it as an API key
   * (`authorization: Bearer`) or as the secret access key of an AWS SigV4
   * signature, which it verifies, along with the session token
   * (`x-amz-security-token`) when one is sent: it must be a live one from
   * /sts. Vertex AI routes then want a live access token from the /token
   * endpoint (`authorization: Bearer`), and that endpoint wants this as the
   * refresh token of a refresh_token grant. AWS STS (/sts) wants this as the
   * web identity token of AssumeRoleWithWebIdentity and as the secret access
   * key signing AssumeRole, and issues it as the temporary credentials' secret.
   */
  requireApiKey?: string;
  /** The model names the providers' model lists give (OpenAI's GET /models, Anthropic's GET /v1/models, Gemini's GET /v1beta/models); default ["fake-model"]. */
  listedModels?: string[];
  /**
   * A service account's public key (PEM): when set, the /token endpoint
   * verifies the RS256 signature of JWT assertions with it.
   */
  serviceAccountPublicKey?: string;
  /** Lifetime of the access tokens /token issues, in seconds (default 3599, as Google's). */
  accessTokenLifetimeSeconds?: number;
  /**
   * Lifetime of the temporary credentials /sts issues, in seconds, whatever
   * the request's DurationSeconds (which is otherwise used, else 3600).
   */
  assumedRoleSeconds?: number;
  /**
   * OpenAI only: /v1/responses answers with a response that failed after it
   * began (status "failed", this error code), and a stream ends in
   * `response.failed` instead of `response.completed`.
   */
  responseFailure?: string;
  /** OpenAI only: answer /v1/responses with a 404, as OpenAI-compatible servers without the Responses API do. */
  noResponsesApi?: boolean;
  /**
   * OpenAI format only: a tool-call answer makes two calls of the tool (ids
   * call_fake_1 and call_fake_2, the same arguments), and a stream sends
   * their argument pieces interleaved (call 0, call 1, call 0, call 1), as
   * some OpenAI-compatible servers stream parallel calls.
   */
  interleavedToolCalls?: boolean;
  /** Headers a successful chat answer carries, streamed or not: the provider's rate limits, say. */
  rateLimitHeaders?: Record<string, string>;
  /**
   * OpenAI format only: the prompt_tokens a chat answer reports, whatever its
   * prompt: a count no real prompt reaches, that a batch's requests sum to.
   */
  promptTokens?: number;
  /** Prompt tokens reported as read from the provider's cache. */
  cachedPromptTokens?: number;
  /** Prompt tokens reported as written to the provider's cache (Anthropic and Bedrock only). */
  cacheWriteTokens?: number;
  /**
   * How many of those writes went to the one-hour cache; when set, usage
   * splits the writes by cache lifetime (`cache_creation`), as Anthropic's
   * newer responses do.
   */
  cacheWrite1hTokens?: number;
  /** Anthropic only: searches its web search tool ran, reported in usage.server_tool_use. */
  webSearchRequests?: number;
  /**
   * OpenAI format only: what the call cost, in US dollars, reported in usage
   * as OpenRouter does (`usage.cost`, a number) or as Perplexity does
   * (`usage.cost.total_cost`).
   */
  reportedCost?: { usd: number; as: "openrouter" | "perplexity" };
}

/** The model names the fake's model lists give. */
export function listedModels(behavior: Behavior): string[] {
  return behavior.listedModels ?? ["fake-model"];
}

export function defaultBehavior(overrides: Partial<Behavior> = {}): Behavior {
  return {
    latencyMs: 0,
    chunkDelayMs: 0,
    failNext: 0,
    failStatus: 500,
    omitStreamUsage: false,
    batchDelayMs: 0,
    ...overrides,
  };
}
