import { fakeAudio, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// POST /v1/audio/speech with the official client, in one process and split
// (the audio crosses the Connect hop as bytes of their own media type).
function speechConfig(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: voice
    litellm_params: { model: openai/tts-1, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { mode: audio_speech }
  - model_name: voice-hd
    litellm_params: { model: azure/team-tts, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { base_model: azure/tts-1-hd }
  - model_name: local-voice
    litellm_params: { model: openai/kokoro, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY, input_cost_per_character: 0.000001 }
  - model_name: chat
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`text to speech, ${mode.name}`, () => {
    let provider: FakeProvider;
    let gateway: ModeGateway;
    let client: OpenAI;
    fakeBehindGatewayPerTest(mode, speechConfig, (setup) => ({ provider, gateway, openai: client } = setup));

    it("passes the audio on as the provider sent it and books TTS by the character read", async () => {
      const input = "Hello from the homelab, naïvely. 👋";
      const { data, response } = await client.audio.speech.create({ model: "voice", voice: "alloy", input, response_format: "wav" }).withResponse();
      expect(response.headers.get("content-type")).toBe("audio/wav");
      expect(Buffer.from(await data.arrayBuffer()).equals(fakeAudio("wav", input))).toBe(true);
      expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/audio/speech", headers: { authorization: `Bearer ${PROVIDER_KEY}` }, body: { model: "tts-1", voice: "alloy", input } });
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "aspeech", model: "tts-1", status: "success", prompt_tokens: 0, completion_tokens: 0 });
      expect(row["spend"]).toBeCloseTo([...input].length * 15e-6, 12);
    });

    it("books a model the list does not know at the input_cost_per_character its deployment sets", async () => {
      const { response } = await client.audio.speech.create({ model: "local-voice", voice: "af_bella", input: "x".repeat(500) }).withResponse();
      expect((await gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"]).toBeCloseTo(500 * 1e-6, 12);
    });

    it("calls an Azure deployment at its own path, priced as its base_model", async () => {
      const { data, response } = await client.audio.speech.create({ model: "voice-hd", voice: "nova", input: "twelve chars" }).withResponse();
      expect(response.headers.get("content-type")).toBe("audio/mpeg");
      expect(Buffer.from(await data.arrayBuffer()).toString()).toBe("FAKE-AUDIO/mp3/twelve chars");
      expect(provider.requests.at(-1)).toMatchObject({ path: "/openai/deployments/team-tts/audio/speech", headers: { "api-key": PROVIDER_KEY } });
      expect((await gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"]).toBeCloseTo(12 * 30e-6, 12);
    });

    it("answers what it cannot run with an OpenAI-style 400", async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ model: "voice", voice: "alloy" }, /input must be a non-empty string/],
        [{ model: "voice", voice: "alloy", input: "x", stream_format: "sse" }, /stream_format/],
        [{ model: "claude", voice: "alloy", input: "x" }, /model claude does not turn text into speech/],
        [{ model: "voice", input: "x" }, /'voice' is required/],
      ];
      for (const [body, message] of cases) {
        const res = await fetch(`${gateway.baseUrl}/v1/audio/speech`, {
          method: "POST",
          headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        expect(res.status, String(message)).toBe(400);
        expect(res.headers.get("content-type")).toBe("application/json");
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
      }
    });

    it("charges a key's budget for the speech it asked for", async () => {
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 1, models: ["voice"] });
      const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      const input = "x".repeat(1000);
      await Promise.all(Array.from({ length: 4 }, () => asKey.audio.speech.create({ model: "voice", voice: "alloy", input }).then((r) => r.arrayBuffer())));
      // Split, the edge gives the reservation back in a call of its own, a moment after the answer.
      await eventually("the key's spend to count every call", async () => {
        const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${key.key}`);
        return Math.abs(json.info.spend - 4 * 1000 * 15e-6) < 1e-9 ? true : undefined;
      });
    });

    it("reserves every character a request may ask to be read, before the call", async () => {
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 0.001, models: ["voice"] });
      const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      // 100 characters at $15 a million: $0.0015, past the budget.
      await expect(asKey.audio.speech.create({ model: "voice", voice: "alloy", input: "x".repeat(100) })).rejects.toMatchObject({ status: 400 });
    });

    it("probes a deployment whose mode is audio_speech by speaking in /health", async () => {
      const { json } = await admin<{ healthy_endpoints: { model_group: string }[] }>(gateway.baseUrl, "GET", "/health?model=voice");
      expect(json.healthy_endpoints.map((e) => e.model_group)).toEqual(["voice"]);
      expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/audio/speech", body: { input: "ping", voice: "alloy" } });
    });
  });
}
