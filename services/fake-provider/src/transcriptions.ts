import type { ServerResponse } from "node:http";
import { sendJson, uploadedForm, type IncomingCall, type Reject } from "./reply.js";

// OpenAI's speech to text, from a multipart upload: the "transcript" names
// the model, the file and its size, so a test can tell what went upstream.
// Whisper (any model but GPT-4o's, Azure's deployments by any name) reports
// the audio's length in seconds (here: a second per 1,000 bytes), GPT-4o
// transcription models the tokens heard and written.

export async function transcribe(call: IncomingCall, res: ServerResponse, reject: Reject): Promise<void> {
  const form = await uploadedForm(call, reject, "file");
  if (!form) return;
  const model = form.get("model");
  const file = form.get("file");
  if (typeof model !== "string") return reject("You must provide a model parameter.", "model");
  if (!(file instanceof Blob)) return reject("'file' must be an uploaded file.", "file");
  const name = file instanceof File ? file.name : "blob";
  const text = `Transcript of ${name} (${file.size} bytes) by ${model}${form.get("language") ? ` in ${String(form.get("language"))}` : ""}`;
  const format = form.get("response_format") ?? "json";
  if (format === "text") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    return void res.end(text);
  }
  const usage = !model.includes("gpt-4o")
    ? { type: "duration", seconds: Math.ceil(file.size / 1000) }
    : { type: "tokens", input_tokens: 40, output_tokens: 12, total_tokens: 52, input_token_details: { audio_tokens: 36, text_tokens: 4 } };
  sendJson(res, 200, { text, usage });
}
