import type { ServerResponse } from "node:http";
import { countTokens, sendJson, uploadedForm, type IncomingCall, type Json, type Reject } from "./reply.js";

// OpenAI's image generation and edits: DALL·E answers with URLs or base64
// data and no usage; GPT Image models always with base64 data, and count
// tokens as the Responses API does (an image given to edit: 323 tokens).

// A 1×1 transparent PNG: every generated image.
const PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

// Image tokens a GPT Image model writes for one square image, by quality (OpenAI's published counts).
const OUTPUT_TOKENS: Record<string, number> = { low: 272, medium: 1056, high: 4160, auto: 1056 };

// Image tokens GPT Image reads from each image it is given to edit.
const EDITED_IMAGE_TOKENS = 323;

export function generateImages(res: ServerResponse, body: Json, reject: Reject, created: number): void {
  answerImages(res, body, reject, created, 0);
}

/** An edit, from a multipart upload of the prompt and the image (GPT Image: several, as image[]). */
export async function editImages(call: IncomingCall, res: ServerResponse, reject: Reject, created: number): Promise<void> {
  const form = await uploadedForm(call, reject, "image");
  if (!form) return;
  const images = [...form.getAll("image"), ...form.getAll("image[]")].filter((i) => i instanceof Blob);
  if (images.length === 0) return reject("'image' must be an uploaded image.", "image");
  const model = form.get("model");
  if (typeof model === "string" && model.startsWith("dall-e-3")) return reject("dall-e-3 does not support image edits.", "model");
  const n = form.get("n");
  const body: Json = { ...Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === "string")), ...(typeof n === "string" && { n: Number(n) }) };
  answerImages(res, body, reject, created, images.length * EDITED_IMAGE_TOKENS);
}

function answerImages(res: ServerResponse, body: Json, reject: Reject, created: number, imageTokens: number): void {
  const { model, prompt } = body;
  if (typeof model !== "string") return reject("You must provide a model parameter.", "model");
  if (typeof prompt !== "string" || prompt === "") return reject("'prompt' must be a non-empty string.", "prompt");
  const n = typeof body.n === "number" ? body.n : 1;
  if (!Number.isInteger(n) || n < 1 || n > 10) return reject("'n' must be an integer from 1 to 10.", "n");
  if (model.startsWith("dall-e-3") && n !== 1) return reject("You must provide n=1 for this model.", "n");
  const gptImage = model.startsWith("gpt-image");
  const asUrl = !gptImage && body.response_format === "url";
  const data = Array.from({ length: n }, (_, index) => ({
    ...(asUrl ? { url: `https://images.fake.invalid/${created}-${index}.png` } : { b64_json: PIXEL_PNG }),
    ...(model.startsWith("dall-e-3") && { revised_prompt: `A picture of ${prompt}` }),
  }));
  if (!gptImage) return sendJson(res, 200, { created, data });
  const text = countTokens(prompt);
  const output = n * (OUTPUT_TOKENS[typeof body.quality === "string" ? body.quality : "auto"] ?? OUTPUT_TOKENS["auto"]!);
  const input = text + imageTokens;
  sendJson(res, 200, {
    created,
    data,
    usage: { total_tokens: input + output, input_tokens: input, output_tokens: output, input_tokens_details: { text_tokens: text, image_tokens: imageTokens } },
  });
}
