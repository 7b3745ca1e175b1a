import type { Usage } from "@gateway/common";
import type { Deployment } from "../config/deployment.js";

// Usage is defined beside costOf, which prices it.
export type { Usage };

/** A parsed JSON object: a request body, a response, a stream event. */
export type Json = Record<string, unknown>;

/** A parsed OpenAI request body (chat completion or embeddings); the adapter owns translation. */
export type OpenAIBody = Json;

export interface ProviderCall {
  deployment: Deployment;
  body: OpenAIBody;
  /** Aborts on client disconnect or timeout. */
  signal: AbortSignal;
  /** Client headers meant for the provider (e.g. anthropic-beta); never credentials. */
  headers: Readonly<Record<string, string>>;
  /**
   * Runs as a stream's bytes arrive: a stream's timeout bounds each wait for
   * more, as LiteLLM's read timeout does, so a long answer that keeps coming
   * is not cut off.
   */
  progressed?: (() => void) | undefined;
  /**
   * Runs with true while a stream waits for its reader to take an event (a
   * client reading slowly holds the stream back), with false once it reads
   * on: that time is the client's, and the stream's timeout does not count it.
   */
  held?: ((held: boolean) => void) | undefined;
  /** Runs when the provider answers with rate-limit headers, with them (names in lower case). */
  rateLimited?: ((headers: Record<string, string>) => void) | undefined;
}

export interface ChatResult {
  /** An OpenAI chat.completion object (a text_completion, for text completions; an Anthropic message, for native messages calls). */
  response: Json;
  /** The provider's own bytes of `response`, when it is passed on unchanged (OpenAI-compatible providers). */
  bytes?: Uint8Array;
  usage: Usage | undefined;
}

/** A call answered in one piece, outside chat: embeddings, generated images, rerank scores, moderation verdicts. */
export interface JsonResult {
  /** An OpenAI embeddings list, image generation's answer, rerank scores, or a moderation's verdicts. */
  response: Json;
  usage: Usage | undefined;
}

/** An answer that may not be JSON, as the provider sent it. */
export interface MediaResult {
  contentType: string;
  bytes: Uint8Array;
}

/** One chunk of an OpenAI chat stream; `data` is the provider's own text of it, when it spoke OpenAI. */
export interface ChatChunk {
  json: Json;
  data?: string;
}

/** A server-sent event of a format that names its events; `data` is its JSON text. */
export interface NamedEvent {
  name: string;
  data: string;
  json: Json;
}

/** Where a deployment's account-wide APIs are (OpenAI's Files and Batch APIs): the URL of a path with a query ("" or "a=1&b=2"), and the headers that authenticate. */
export interface AccountApi {
  url(path: string, query: string): string;
  headers: Record<string, string>;
}

/**
 * Speaks one provider's wire format. Requests come in, and results go out, in
 * OpenAI's shapes. Failures are ProviderErrors.
 */
export interface ProviderAdapter {
  /**
   * The OpenAI chat parameters this provider takes (as they are or
   * translated); anything else is dropped under drop_params or refused.
   * Unset: the provider speaks OpenAI and takes whatever it is sent.
   */
  readonly chatParams?: ReadonlySet<string>;
  /** What keeps a deployment from being called (say, a missing api_base), found at config load. */
  check?(d: Deployment): string | undefined;
  /** For a provider serving models in several formats: the adapter for one model, when not this one. */
  forModel?(providerModel: string): ProviderAdapter | undefined;
  chat(call: ProviderCall): Promise<ChatResult>;
  /**
   * Resolves once the provider has accepted the request (so failures before
   * the first byte can still be retried elsewhere), to OpenAI chunks.
   * The stream always asks the provider for usage.
   */
  chatStream(call: ProviderCall): Promise<AsyncIterable<ChatChunk>>;
  /** OpenAI's legacy text completions (/v1/completions), as chat and chatStream; unset when the provider has none. */
  textCompletion?(call: ProviderCall): Promise<ChatResult>;
  textCompletionStream?(call: ProviderCall): Promise<AsyncIterable<ChatChunk>>;
  /** OpenAI embeddings; unset when the provider has none. */
  embeddings?(call: ProviderCall): Promise<JsonResult>;
  /** The OpenAI embeddings parameters it takes, as chatParams is for chat. */
  readonly embeddingParams?: ReadonlySet<string>;
  /** OpenAI's image generation (/v1/images/generations); unset when the provider has none here. */
  imageGenerations?(call: ProviderCall): Promise<JsonResult>;
  /** OpenAI's image edits (/v1/images/edits), the body an upload's fields and images; unset when the provider has none here. */
  imageEdits?(call: ProviderCall): Promise<JsonResult>;
  /** OpenAI's text to speech (/v1/audio/speech): the audio and its media type; unset when the provider has none here. */
  speech?(call: ProviderCall): Promise<MediaResult>;
  /** OpenAI's speech to text (/v1/audio/transcriptions), the body an upload's fields and file: the answer as it came (JSON or text); unset when the provider has none here. */
  transcription?(call: ProviderCall): Promise<MediaResult>;
  /** Reranking in the Cohere and Jina shape (/rerank); unset when the provider has none here. */
  rerank?(call: ProviderCall): Promise<JsonResult>;
  /** OpenAI's moderations (/v1/moderations): the verdicts as OpenAI shapes them; unset when the provider has none here. */
  moderations?(call: ProviderCall): Promise<JsonResult>;
  /**
   * Anthropic Messages requests answered natively: the body, the response and
   * the events stay in Anthropic's shapes. Unset: they are translated to chat.
   */
  messages?(call: ProviderCall): Promise<ChatResult>;
  messagesStream?(call: ProviderCall): Promise<AsyncIterable<NamedEvent>>;
  /**
   * OpenAI's Responses API answered natively: the body, the response and the
   * events stay in its shapes. Unset: they are translated to chat.
   */
  responses?(call: ProviderCall): Promise<ChatResult>;
  responsesStream?(call: ProviderCall): Promise<AsyncIterable<NamedEvent>>;
  /**
   * Gemini's generateContent answered natively: the body, the response and
   * the stream's chunks stay in Gemini's shapes. Unset: they are translated
   * to chat.
   */
  generateContent?(call: ProviderCall): Promise<JsonResult>;
  generateContentStream?(call: ProviderCall): Promise<AsyncIterable<Json>>;
  /** OpenAI's Files and Batch APIs, for providers that serve them in its shapes; unset when the provider has none here. */
  accountApi?(d: Deployment): AccountApi;
  /**
   * The names of the models the provider offers the deployment's key, as it
   * lists them (LiteLLM's check_provider_endpoint, for wildcard deployments);
   * unset when the provider has no such list here.
   */
  listModels?(d: Deployment, signal: AbortSignal): Promise<string[]>;
}

/** A provider's failure, in OpenAI's terms, with nothing secret in its message. */
export class ProviderError extends Error {
  override name = "ProviderError";

  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    readonly retryAfterMs?: number,
    /** The provider's own error code and param (OpenAI's `context_length_exceeded`, …), passed on to the client. */
    readonly detail?: { code?: string; param?: string },
  ) {
    super(message);
  }
}
