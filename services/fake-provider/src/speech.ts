import type { ServerResponse } from "node:http";
import type { Json, Reject } from "./reply.js";

// OpenAI's text to speech: the "audio" is a marker, the format and the text
// read, so a test can tell what was asked for from the bytes that came back.

const MEDIA_TYPES: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

/** The bytes the fake answers `input` with, in `format`. */
export function fakeAudio(format: string, input: string): Buffer {
  return Buffer.from(`FAKE-AUDIO/${format}/${input}`, "utf8");
}

export function speak(res: ServerResponse, body: Json, reject: Reject): void {
  const { model, input, voice } = body;
  if (typeof model !== "string") return reject("You must provide a model parameter.", "model");
  if (typeof input !== "string" || input === "") return reject("'input' must be a non-empty string.", "input");
  if (typeof voice !== "string" && (typeof voice !== "object" || voice === null)) return reject("'voice' is required.", "voice");
  const format = typeof body.response_format === "string" ? body.response_format : "mp3";
  const type = MEDIA_TYPES[format];
  if (!type) return reject(`'response_format' must be one of ${Object.keys(MEDIA_TYPES).join(", ")}.`, "response_format");
  const audio = fakeAudio(format, input);
  res.writeHead(200, { "content-type": type, "content-length": audio.length });
  res.end(audio);
}
