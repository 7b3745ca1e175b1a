import { thoughtSignature, type FakeProvider } from "@gateway/fake-provider";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { PIXEL_PNG, providersConfig } from "./support/providers.js";

// The adapters live in the router and run the same in every mode; the modes
// themselves are covered by the chat, messages and embeddings tests.
const mode = MODES[0]!;
// A minimal PDF, base64.
const PDF = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK";

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } }, additionalProperties: false } },
};

describe("OpenAI clients on gemini/ and azure/ deployments", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const upstream = () => provider.requests.at(-1)!;

  describe("gemini", () => {
    it("translates to generateContent with the key in a header, and the answer back", async () => {
      const { data, response } = await client.chat.completions
        .create({
          model: "gemini-flash",
          max_tokens: 50,
          temperature: 0.1,
          messages: [
            { role: "system", content: "Be kind." },
            { role: "user", content: "hello gemini" },
          ],
        })
        .withResponse();
      expect(data.choices[0]).toMatchObject({ message: { role: "assistant", content: "Echo: hello gemini" }, finish_reason: "stop" });
      expect(data.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
      expect(upstream().path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
      expect(upstream().headers["x-goog-api-key"]).toBe(PROVIDER_KEY);
      expect(upstream().query).toEqual({});
      expect(upstream().body).toEqual({
        contents: [{ role: "user", parts: [{ text: "hello gemini" }] }],
        systemInstruction: { parts: [{ text: "Be kind." }] },
        generationConfig: { temperature: 0.1, maxOutputTokens: 50 },
      });
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      // gemini-2.5-flash: $0.30 input, $2.50 output per million tokens.
      expect(row).toMatchObject({ custom_llm_provider: "gemini", prompt_tokens: 4, completion_tokens: 3, usage_estimated: false });
      expect(row["spend"]).toBeCloseTo((4 * 0.3 + 3 * 2.5) / 1e6, 12);
    });

    it("streams with alt=sse, usage from usageMetadata", async () => {
      const stream = await client.chat.completions.create({
        model: "gemini-flash",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "one two three" }],
      });
      let text = "";
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect({ text, finish }).toEqual({ text: "Echo: one two three", finish: "stop" });
      expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4 });
      expect(upstream().path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
      expect(upstream().query).toEqual({ alt: "sse" });
    });

    it("calls functions and sends their results back by name", async () => {
      const ask = { role: "user" as const, content: "weather in Paris?" };
      const completion = await client.chat.completions.create({ model: "gemini-flash", tools: [weatherTool], tool_choice: "required", messages: [ask] });
      const call = completion.choices[0]!.message.tool_calls?.[0];
      expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
      expect(call).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } });
      expect(call?.id).toMatch(/^call_/);
      expect(upstream().body).toMatchObject({
        tools: [{ functionDeclarations: [{ name: "get_weather", parametersJsonSchema: weatherTool.function.parameters }] }],
        toolConfig: { functionCallingConfig: { mode: "ANY" } },
      });

      const stream = await client.chat.completions.create({ model: "gemini-flash", stream: true, tools: [weatherTool], messages: [ask] });
      let args = "";
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect({ args: JSON.parse(args), finish }).toEqual({ args: { location: "Paris" }, finish: "tool_calls" });

      const answer = await client.chat.completions.create({
        model: "gemini-flash",
        tools: [weatherTool],
        messages: [ask, completion.choices[0]!.message, { role: "tool", tool_call_id: call!.id, content: '{"forecast":"sunny"}' }],
      });
      expect(answer.choices[0]!.message.content).toBe("Echo: weather in Paris?");
      expect((upstream().body as { contents: unknown[] }).contents.slice(1)).toEqual([
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { location: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "sunny" } } }] },
      ]);
    });

    it("keeps a Gemini 3 call's thought signature through the client, streamed or not, so the conversation goes on", async () => {
      const ask = { role: "user" as const, content: "weather in Paris?" };
      const whole = (await client.chat.completions.create({ model: "gemini-3", tools: [weatherTool], messages: [ask] })).choices[0]!.message;
      const stream = await client.chat.completions.create({ model: "gemini-3", stream: true, tools: [weatherTool], messages: [ask] });
      let streamedId = "";
      for await (const chunk of stream) streamedId += chunk.choices[0]?.delta.tool_calls?.[0]?.id ?? "";
      const streamed = { role: "assistant" as const, content: null, tool_calls: [{ ...whole.tool_calls![0]!, id: streamedId }] };
      for (const message of [whole, streamed]) {
        const answer = await client.chat.completions.create({
          model: "gemini-3",
          tools: [weatherTool],
          messages: [ask, message, { role: "tool", tool_call_id: message.tool_calls![0]!.id, content: '{"forecast":"sunny"}' }],
        });
        expect(answer.choices[0]!.message.content).toBe("Echo: weather in Paris?");
        const sent = (upstream().body as { contents: { parts: Record<string, unknown>[] }[] }).contents[1]!.parts[0];
        expect(sent).toEqual({ functionCall: { name: "get_weather", args: { location: "Paris" } }, thoughtSignature: thoughtSignature("get_weather") });
      }
    });

    it("turns reasoning_effort into a thinking budget (a level from Gemini 3 on), with the thoughts as reasoning_content", async () => {
      const hi = [{ role: "user" as const, content: "one two" }];
      const answer = await client.chat.completions.create({ model: "gemini-flash", reasoning_effort: "low", messages: hi });
      expect((upstream().body as { generationConfig: unknown }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } });
      const message = answer.choices[0]!.message as typeof answer.choices[0]["message"] & { reasoning_content?: string };
      expect([message.content, message.reasoning_content]).toEqual(["Echo: one two", "Thinking about: one two"]);
      // Thoughts are billed as output: the answer's three words and the four of the thoughts.
      expect(answer.usage!.completion_tokens).toBe(7);

      const stream = await client.chat.completions.create({ model: "gemini-3", reasoning_effort: "high", stream: true, messages: hi });
      let reasoning = "";
      for await (const chunk of stream) reasoning += (chunk.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? "";
      expect((upstream().body as { generationConfig: unknown }).generationConfig).toEqual({ thinkingConfig: { thinkingLevel: "high", includeThoughts: true } });
      expect(reasoning).toBe("Thinking about: one two");

      await client.chat.completions.create({ model: "gemini-flash", reasoning_effort: "none", messages: hi });
      expect((upstream().body as { generationConfig: unknown }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    });

    it("sends images inline", async () => {
      await client.chat.completions.create({
        model: "gemini-flash",
        messages: [{ role: "user", content: [{ type: "text", text: "what is it" }, { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL_PNG}` } }] }],
      });
      expect((upstream().body as { contents: { parts: unknown }[] }).contents[0]!.parts).toEqual([
        { text: "what is it" },
        { inlineData: { mimeType: "image/png", data: PIXEL_PNG } },
      ]);
    });

    it("sends a PDF inline, from an Anthropic client's document block too, as Gemini reads PDFs", async () => {
      const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
      const message = await anthropic.messages.create({
        model: "gemini-flash",
        max_tokens: 50,
        messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF } }, { type: "text", text: "summarize" }] }],
      });
      expect(message.content).toEqual([{ type: "text", text: "Echo: summarize" }]);
      expect((upstream().body as { contents: { parts: unknown }[] }).contents[0]!.parts).toEqual([{ inlineData: { mimeType: "application/pdf", data: PDF } }, { text: "summarize" }]);

      await client.chat.completions.create({
        model: "gemini-flash",
        messages: [{ role: "user", content: [{ type: "file", file: { file_data: `data:application/pdf;base64,${PDF}`, filename: "a.pdf" } }] }],
      });
      expect((upstream().body as { contents: { parts: unknown }[] }).contents[0]!.parts).toEqual([{ inlineData: { mimeType: "application/pdf", data: PDF } }]);
    });

    it("estimates usage when the stream carries no usageMetadata", async () => {
      provider.behavior.omitStreamUsage = true;
      const { data: stream, response } = await client.chat.completions
        .create({ model: "gemini-flash", stream: true, messages: [{ role: "user", content: "count me" }] })
        .withResponse();
      for await (const _ of stream) {
        // drain
      }
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ usage_estimated: true, status: "success" });
    });

    it("maps Gemini's errors to their statuses, and refuses parameters it lacks", async () => {
      Object.assign(provider.behavior, { failNext: 1, failStatus: 429 });
      await expect(client.chat.completions.create({ model: "gemini-flash", messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(
        OpenAI.RateLimitError,
      );
      provider.behavior.requireApiKey = "AIza-other-key-123456";
      const invalid = await client.chat.completions.create({ model: "gemini-flash", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(invalid).toMatchObject({ status: 400 });
      expect((invalid as Error).message).toContain("API key not valid");
      const refused = await client.chat.completions
        .create({ model: "gemini-flash", logit_bias: { "1": 2 }, messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as Error).message).toContain("logit_bias");
    });

    it("takes parallel_tool_calls at OpenAI's default (true, which Gemini does anyway), and refuses false", async () => {
      const ask = { model: "gemini-flash", tools: [weatherTool], messages: [{ role: "user" as const, content: "What's the weather in Paris?" }] };
      const completion = await client.chat.completions.create({ ...ask, parallel_tool_calls: true });
      expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
      expect(provider.requests.at(-1)!.body).not.toHaveProperty("parallel_tool_calls");
      const refused = await client.chat.completions.create({ ...ask, parallel_tool_calls: false }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as Error).message).toContain("parallel_tool_calls");
    });
  });

  describe("azure", () => {
    it("calls the deployment URL with api-version and api-key, and prices by the deployment's override", async () => {
      const { data, response } = await client.chat.completions
        .create({ model: "azure-gpt", messages: [{ role: "user", content: "hello azure" }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe("Echo: hello azure");
      expect(upstream().path).toBe("/openai/deployments/my-gpt-4o/chat/completions");
      expect(upstream().query).toEqual({ "api-version": "2024-10-21" });
      expect(upstream().headers["api-key"]).toBe(PROVIDER_KEY);
      expect(upstream().headers["authorization"]).toBeUndefined();
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ custom_llm_provider: "azure", model: "my-gpt-4o" });
      expect(row["spend"]).toBeCloseTo(data.usage!.prompt_tokens * 1e-6 + data.usage!.completion_tokens * 2e-6, 12);
      expect(Number(response.headers.get("x-litellm-response-cost"))).toBeCloseTo(row["spend"] as number, 15);
    });

    it("streams, with tools passed as they are", async () => {
      const stream = await client.chat.completions.create({
        model: "azure-gpt",
        stream: true,
        tools: [weatherTool],
        messages: [{ role: "user", content: "weather in Paris?" }],
      });
      let args = "";
      for await (const chunk of stream) args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
      expect(JSON.parse(args)).toEqual({ location: "Paris" });
      expect(upstream().body).toMatchObject({ tools: [weatherTool], stream: true, stream_options: { include_usage: true } });
    });

    it("passes Azure's errors on with their status", async () => {
      Object.assign(provider.behavior, { failNext: 1, failStatus: 503 });
      await expect(client.chat.completions.create({ model: "azure-gpt", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ status: 503 });
    });
  });
});
