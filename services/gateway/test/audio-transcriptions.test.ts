import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI, { toFile } from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// POST /v1/audio/transcriptions, a multipart upload, with the official
// client, in one process and split (the upload crosses the Connect hop as
// it came, with its content type).
function transcriptionConfig(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: stt
    litellm_params: { model: openai/whisper-1, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { mode: audio_transcription }
  - model_name: stt-4o
    litellm_params: { model: openai/gpt-4o-transcribe, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: stt-azure
    litellm_params: { model: azure/team-whisper, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { base_model: azure/whisper-1 }
  - model_name: local-stt
    litellm_params: { model: openai/faster-whisper-large-v3, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { input_cost_per_second: 0.00002 }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

const audio = (bytes: number, name = "clip.wav") => toFile(Buffer.alloc(bytes, 7), name, { type: "audio/wav" });

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`speech to text, ${mode.name}`, () => {
    let provider: FakeProvider;
    let gateway: ModeGateway;
    let client: OpenAI;
    fakeBehindGatewayPerTest(mode, transcriptionConfig, (setup) => ({ provider, gateway, openai: client } = setup));

    it("sends the upload on under the deployment's model and books Whisper by the second heard", async () => {
      const { data, response } = await client.audio.transcriptions.create({ model: "stt", file: await audio(5_000) }).withResponse();
      expect(data.text).toBe("Transcript of clip.wav (5000 bytes) by whisper-1");
      expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/audio/transcriptions", headers: { authorization: `Bearer ${PROVIDER_KEY}`, "content-type": expect.stringMatching(/^multipart\/form-data; boundary=/) } });
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "atranscription", model: "whisper-1", model_group: "stt", status: "success" });
      expect(row["spend"]).toBeCloseTo(5 * 0.0001, 12);
    });

    it("books a model the list does not know at the input_cost_per_second its deployment sets", async () => {
      const { response } = await client.audio.transcriptions.create({ model: "local-stt", file: await audio(7_000) }).withResponse();
      expect((await gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"]).toBeCloseTo(7 * 0.00002, 12);
    });

    it("answers plain text when asked, still booking the tokens GPT-4o transcription reports", async () => {
      const { data, response } = await client.audio.transcriptions.create({ model: "stt-4o", file: await audio(800, "memo.mp3"), response_format: "text" }).withResponse();
      expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(data).toBe("Transcript of memo.mp3 (800 bytes) by gpt-4o-transcribe");
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ prompt_tokens: 40, completion_tokens: 12 });
      expect(row["spend"]).toBeCloseTo((36 * 6 + 4 * 2.5 + 12 * 10) / 1e6, 12);
    });

    it("calls an Azure deployment at its own path with the form's other fields, priced as its base_model", async () => {
      const { data, response } = await client.audio.transcriptions.create({ model: "stt-azure", file: await audio(2_000), language: "de" }).withResponse();
      expect(data.text).toBe("Transcript of clip.wav (2000 bytes) by team-whisper in de");
      expect(provider.requests.at(-1)).toMatchObject({ path: "/openai/deployments/team-whisper/audio/transcriptions", headers: { "api-key": PROVIDER_KEY } });
      expect((await gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"]).toBeCloseTo(2 * 0.0001, 12);
    });

    it("answers what it cannot run with an OpenAI-style error", async () => {
      const post = (body: string | FormData, headers: Record<string, string> = {}) =>
        fetch(`${gateway.baseUrl}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, ...headers }, body });
      const form = (fields: Record<string, string>, file = true) => {
        const f = new FormData();
        for (const [name, value] of Object.entries(fields)) f.append(name, value);
        if (file) f.append("file", new Blob([Buffer.alloc(10)], { type: "audio/wav" }), "a.wav");
        return f;
      };
      const cases: [Response, number, RegExp][] = [
        [await post(JSON.stringify({ model: "stt" }), { "content-type": "application/json" }), 415, /multipart\/form-data/],
        [await post(form({ model: "stt" }, false)), 400, /file must be an uploaded audio file/],
        [await post(form({ model: "stt", stream: "true" })), 400, /not streamed/],
        [await post(form({ model: "claude" })), 400, /model claude does not transcribe audio/],
        [await post(form({})), 400, /model is required/],
        [await post("--x\r\nbroken", { "content-type": "multipart/form-data; boundary=x" }), 400, /not a valid multipart/],
        // As LiteLLM's forms: each part's parse held the event loop (for every name again), before the key was known.
        [await post(form({ model: "stt", ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, "v"])) })), 400, /at most 1000 parts/],
      ];
      for (const [res, status, message] of cases) {
        expect(res.status, String(message)).toBe(status);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
      }
    });

    it("lets a key with a token limit upload more bytes than its limit, and charges its budget", async () => {
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 1, tpm_limit: 1_000, models: ["stt"] });
      const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      await Promise.all(Array.from({ length: 3 }, async () => asKey.audio.transcriptions.create({ model: "stt", file: await audio(20_000) })));
      // Split, the edge gives the reservation back in a call of its own, a moment after the answer.
      await eventually("the key's spend to count every call", async () => {
        const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${key.key}`);
        return Math.abs(json.info.spend - 3 * 20 * 0.0001) < 1e-9 ? true : undefined;
      });
    });

    it("probes a deployment whose mode is audio_transcription with a moment of silence in /health", async () => {
      const { json } = await admin<{ healthy_endpoints: { model_group: string }[] }>(gateway.baseUrl, "GET", "/health?model=stt");
      expect(json.healthy_endpoints.map((e) => e.model_group)).toEqual(["stt"]);
      expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/audio/transcriptions" });
    });
  });
}
