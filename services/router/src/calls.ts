import { validateMessagesBody } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { speech, validateSpeechBody } from "./audio-speech.js";
import { transcription, validateTranscriptionBody } from "./audio-transcriptions.js";
import { CHAT_DEFAULTS, EMBED_CONTENT_DEFAULTS, EMBEDDING_DEFAULTS, GENERATE_CONTENT_DEFAULTS, IMAGE_DEFAULTS, MESSAGES_DEFAULTS, MODERATION_DEFAULTS, RERANK_DEFAULTS, SPEECH_DEFAULTS, TRANSCRIPTION_DEFAULTS, RESPONSES_DEFAULTS, TEXT_COMPLETION_DEFAULTS, type Takes } from "./call-defaults.js";
import { chat, chatStream, validateChatBody } from "./chat-completion.js";
import { embedContent, validateEmbedContentBody } from "./embed-content.js";
import { embeddings, validateEmbeddingsBody } from "./embeddings.js";
import { generateContent, generateContentStream, validateGenerateContentBody } from "./generate-content.js";
import { imageEdits, imageGenerations, validateImageEditsBody, validateImageGenerationsBody } from "./images.js";
import { messages, messagesStream } from "./messages.js";
import { moderations, validateModerationsBody } from "./moderations.js";
import type { Outcome, CallEvent } from "./outcome.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { rerank, validateRerankBody } from "./rerank.js";
import { responses, responsesStream, validateResponsesBody } from "./responses.js";
import { TEXT_COMPLETIONS, validateTextCompletionBody } from "./text-completion.js";

/**
 * A call's events: all of them at once for a call that does not stream
 * (they are known together, and need no generator to pass through), as
 * they come for one that does.
 */
export type CallEvents = Promise<CallEvent[]> | AsyncIterable<CallEvent>;

/** A call's events once a deployment has answered: all of them, or a stream that has begun. */
export type Answer = readonly CallEvent[] | AsyncIterable<CallEvent>;

/** How the router runs one call type, once its deployment is picked. */
export interface CallHandler {
  /** The usage event's call_type, as LiteLLM names it. */
  name: string;
  /** Throws an InvalidArgument error for a body this call type cannot run. */
  validate(body: Json): void;
  /** The deployment call parameters (litellm_params) its bodies take, by the name each has there. */
  defaults: Takes;
  run(call: ProviderCall, outcome: Outcome): CallEvents;
}

const streams = (body: Json) => body["stream"] === true;

export const CALL_HANDLERS: ReadonlyMap<CallType, CallHandler> = new Map([
  [
    CallType.CHAT_COMPLETIONS,
    { name: "acompletion", validate: validateChatBody, defaults: CHAT_DEFAULTS, run: (call, outcome) => (streams(call.body) ? chatStream : chat)(call, outcome) },
  ],
  [CallType.EMBEDDINGS, { name: "aembedding", validate: validateEmbeddingsBody, defaults: EMBEDDING_DEFAULTS, run: embeddings }],
  [CallType.EMBED_CONTENT, { name: "aembedding", validate: validateEmbedContentBody, defaults: EMBED_CONTENT_DEFAULTS, run: embedContent }],
  [CallType.IMAGE_GENERATIONS, { name: "aimage_generation", validate: validateImageGenerationsBody, defaults: IMAGE_DEFAULTS, run: imageGenerations }],
  [CallType.IMAGE_EDITS, { name: "aimage_edit", validate: validateImageEditsBody, defaults: IMAGE_DEFAULTS, run: imageEdits }],
  [CallType.AUDIO_SPEECH, { name: "aspeech", validate: validateSpeechBody, defaults: SPEECH_DEFAULTS, run: speech }],
  [CallType.AUDIO_TRANSCRIPTIONS, { name: "atranscription", validate: validateTranscriptionBody, defaults: TRANSCRIPTION_DEFAULTS, run: transcription }],
  [CallType.RERANK, { name: "arerank", validate: validateRerankBody, defaults: RERANK_DEFAULTS, run: rerank }],
  [CallType.MODERATIONS, { name: "amoderation", validate: validateModerationsBody, defaults: MODERATION_DEFAULTS, run: moderations }],
  [
    CallType.MESSAGES,
    { name: "anthropic_messages", validate: validateMessagesBody, defaults: MESSAGES_DEFAULTS, run: (call, outcome) => (streams(call.body) ? messagesStream : messages)(call, outcome) },
  ],
  [
    CallType.RESPONSES,
    { name: "aresponses", validate: validateResponsesBody, defaults: RESPONSES_DEFAULTS, run: (call, outcome) => (streams(call.body) ? responsesStream : responses)(call, outcome) },
  ],
  [
    CallType.GENERATE_CONTENT,
    {
      name: "agenerate_content",
      validate: validateGenerateContentBody,
      defaults: GENERATE_CONTENT_DEFAULTS,
      run: (call, outcome) => (streams(call.body) ? generateContentStream : generateContent)(call, outcome),
    },
  ],
  [
    CallType.TEXT_COMPLETIONS,
    {
      name: "atext_completion",
      validate: validateTextCompletionBody,
      defaults: TEXT_COMPLETION_DEFAULTS,
      run: (call, outcome) => (streams(call.body) ? chatStream : chat)(call, outcome, TEXT_COMPLETIONS),
    },
  ],
]);
