import type { Price, PriceRates } from "./pricing.js";

const M = 1e-6;

// List prices per million tokens of popular models, from the providers'
// public pricing pages. A deployment's model_info / litellm_params prices
// (PriceOverride) override these. Cache writes cost the input price unless a
// fourth column says otherwise (Anthropic's five-minute cache: 1.25 times the
// input price); a model with that column also has Anthropic's one-hour cache.
const PER_MILLION: Record<string, [input: number, output: number, cachedInput: number, cacheWrite?: number]> = {
  "gpt-4o": [2.5, 10, 1.25],
  "gpt-4o-mini": [0.15, 0.6, 0.075],
  "gpt-4.1": [2, 8, 0.5],
  "gpt-4.1-mini": [0.4, 1.6, 0.1],
  "gpt-4.1-nano": [0.1, 0.4, 0.025],
  "gpt-5": [1.25, 10, 0.125],
  "gpt-5-mini": [0.25, 2, 0.025],
  "gpt-5-nano": [0.05, 0.4, 0.005],
  o3: [2, 8, 0.5],
  "o4-mini": [1.1, 4.4, 0.275],
  "text-embedding-3-small": [0.02, 0, 0],
  "text-embedding-3-large": [0.13, 0, 0],
  "text-embedding-ada-002": [0.1, 0, 0],
  // GPT Image: text prompt tokens in, image tokens out (what budget
  // reservations bound; an answer is priced by imageTokenCost).
  "gpt-image-1": [5, 40, 1.25],
  "gpt-image-1-mini": [2, 8, 0.2],
  "claude-3-5-sonnet": [3, 15, 0.3, 3.75],
  "claude-3-5-haiku": [0.8, 4, 0.08, 1],
  "claude-3-7-sonnet": [3, 15, 0.3, 3.75],
  "claude-sonnet-4": [3, 15, 0.3, 3.75],
  "claude-sonnet-4-5": [3, 15, 0.3, 3.75],
  "claude-opus-4": [15, 75, 1.5, 18.75],
  "claude-opus-4-1": [15, 75, 1.5, 18.75],
  "claude-opus-4-5": [5, 25, 0.5, 6.25],
  "claude-opus-4-6": [5, 25, 0.5, 6.25],
  "claude-opus-4-7": [5, 25, 0.5, 6.25],
  "claude-opus-4-8": [5, 25, 0.5, 6.25],
  "claude-sonnet-4-6": [3, 15, 0.3, 3.75],
  "claude-haiku-4-5": [1, 5, 0.1, 1.25],
  "gemini-2.0-flash": [0.1, 0.4, 0.025],
  "gemini-2.5-flash": [0.3, 2.5, 0.075],
  "gemini-2.5-flash-lite": [0.1, 0.4, 0.025],
  "gemini-2.5-pro": [1.25, 10, 0.31],
  "gemini-3-pro": [2, 12, 0.2],
  "gemini-3-flash": [0.5, 3, 0.05],
  "text-embedding-004": [0, 0, 0],
  "gemini-embedding-001": [0.15, 0, 0],
};

// Anthropic prices a write to its one-hour cache at twice the input price, for every model.
const ONE_HOUR_WRITE_RATIO = 2;

// The long-context rates of the models that charge more for a prompt past
// LONG_CONTEXT_TOKENS: Anthropic's Sonnet 4 and 4.5 (with the 1M-token
// context), Google's Gemini 2.5 Pro and 3 Pro. Columns as above.
const LONG_CONTEXT_PER_MILLION: Record<string, [input: number, output: number, cachedInput: number, cacheWrite?: number]> = {
  "claude-sonnet-4-0": [6, 22.5, 0.6, 7.5],
  "claude-sonnet-4-2": [6, 22.5, 0.6, 7.5],
  "claude-sonnet-4-5": [6, 22.5, 0.6, 7.5],
  "gemini-2.5-pro": [2.5, 15, 0.625],
  "gemini-3-pro": [4, 18, 0.4],
};

const FREE: Price = { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, cacheWrite1h: 0 };

function priceOfRow([input, output, cachedInput, cacheWrite]: (typeof PER_MILLION)[string]): PriceRates {
  return {
    input: input * M,
    output: output * M,
    cachedInput: cachedInput * M,
    cacheWrite: (cacheWrite ?? input) * M,
    cacheWrite1h: (cacheWrite === undefined ? input : input * ONE_HOUR_WRITE_RATIO) * M,
  };
}

/** The row of the longest name that begins the model's name: dated snapshots ("claude-3-5-sonnet-20241022") are priced as their family. */
function rowOf<Row>(table: Record<string, Row>, providerModel: string): Row | undefined {
  let best: string | undefined;
  for (const name of Object.keys(table)) {
    if (providerModel.startsWith(name) && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? undefined : table[best];
}

// Anthropic's web search tool: $10 per 1,000 searches, on every Claude model.
const CLAUDE_WEB_SEARCH = 0.01;

/** The list price of a provider model; nothing (free) for a model the list does not know. */
export function listPrice(providerModel: string): Price {
  const row = rowOf(PER_MILLION, providerModel);
  if (!row) return FREE;
  const longContext = rowOf(LONG_CONTEXT_PER_MILLION, providerModel);
  return {
    ...priceOfRow(row),
    ...(longContext && { longContext: priceOfRow(longContext) }),
    ...(providerModel.startsWith("claude-") && { webSearch: CLAUDE_WEB_SEARCH }),
  };
}

// Speech models priced by the character of text they read (OpenAI's TTS and TTS HD), dollars a character.
const PER_CHARACTER: Record<string, number> = { "tts-1": 15 * M, "tts-1-hd": 30 * M };

/** The list price of a character a speech model reads; undefined for a model priced otherwise. */
export function characterPrice(providerModel: string): number | undefined {
  return rowOf(PER_CHARACTER, providerModel);
}

// Models priced by the image rather than by the token (OpenAI's DALL·E):
// dollars an image, by quality and size; the first size is the default.
const PER_IMAGE: Record<string, Record<string, Record<string, number>>> = {
  "dall-e-3": {
    standard: { "1024x1024": 0.04, "1024x1792": 0.08, "1792x1024": 0.08 },
    hd: { "1024x1024": 0.08, "1024x1792": 0.12, "1792x1024": 0.12 },
  },
  "dall-e-2": { standard: { "1024x1024": 0.02, "512x512": 0.018, "256x256": 0.016 } },
};

/** The dearest image a model priced by the image makes, at any quality and size: what a reservation bounds an image by. */
export function dearestImagePrice(providerModel: string): number | undefined {
  const byQuality = PER_IMAGE[providerModel];
  return byQuality && Math.max(...Object.values(byQuality).flatMap((bySize) => Object.values(bySize)));
}

/**
 * The list price of one image of a model priced by the image, at the quality
 * and size asked (each defaulting as the provider does); undefined for a
 * model priced by its tokens, or a quality or size it does not list.
 */
export function imagePrice(providerModel: string, quality: unknown, size: unknown): number | undefined {
  const byQuality = PER_IMAGE[providerModel];
  if (!byQuality) return undefined;
  const bySize = byQuality[typeof quality === "string" ? quality : "standard"];
  if (!bySize) return undefined;
  return typeof size === "string" ? bySize[size] : Object.values(bySize)[0];
}

// GPT Image's tokens, dollars a million: the prompt's text, the images
// given to edit, and the images written.
const IMAGE_TOKENS_PER_MILLION: Record<string, { text: number; image: number; output: number }> = {
  "gpt-image-1": { text: 5, image: 10, output: 40 },
  "gpt-image-1-mini": { text: 2, image: 2.5, output: 8 },
};

/** The list price of a GPT Image answer by its kinds of tokens; undefined for a model priced otherwise. */
export function imageTokenCost(providerModel: string, tokens: { text: number; image: number; output: number }): number | undefined {
  const rates = rowOf(IMAGE_TOKENS_PER_MILLION, providerModel);
  return rates && (tokens.text * rates.text + tokens.image * rates.image + tokens.output * rates.output) * M;
}

// Speech to text, dollars: Whisper by the second of audio heard, GPT-4o
// transcription by the token (audio heard, text prompt, text written).
const TRANSCRIPTION: Record<string, { perSecond: number } | { audio: number; text: number; output: number }> = {
  "whisper-1": { perSecond: 0.0001 },
  "gpt-4o-transcribe": { audio: 6 * M, text: 2.5 * M, output: 10 * M },
  "gpt-4o-mini-transcribe": { audio: 3 * M, text: 1.25 * M, output: 5 * M },
};

/** What a transcription reports it used: seconds of audio (Whisper), or tokens. */
export interface TranscriptionUsage {
  seconds: number;
  audioTokens: number;
  textTokens: number;
  outputTokens: number;
}

/** The list price of a transcription by what it used; undefined for a model the list does not know. */
export function transcriptionCost(providerModel: string, used: TranscriptionUsage): number | undefined {
  const rates = rowOf(TRANSCRIPTION, providerModel);
  if (!rates) return undefined;
  if ("perSecond" in rates) return used.seconds * rates.perSecond;
  return used.audioTokens * rates.audio + used.textTokens * rates.text + used.outputTokens * rates.output;
}

/** Whether the list prices a model by other units than its tokens: images, characters, seconds or kinds of tokens heard. */
export function pricedByUnit(providerModel: string): boolean {
  return (
    providerModel in PER_IMAGE ||
    rowOf(PER_CHARACTER, providerModel) !== undefined ||
    rowOf(IMAGE_TOKENS_PER_MILLION, providerModel) !== undefined ||
    rowOf(TRANSCRIPTION, providerModel) !== undefined
  );
}
