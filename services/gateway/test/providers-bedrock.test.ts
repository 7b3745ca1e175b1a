import Anthropic, { APIError } from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// The adapter lives in the router and runs the same in every mode.
const mode = MODES[0]!;

// The fake answers Bedrock Runtime's Converse API under /model/, checking a
// SigV4 signature made with its key as the secret access key, or taking the
// key as a Bedrock API key (bearer token).
const ROLE = "arn:aws:iam::123456789012:role/bedrock-caller";

// Profiles of AWS's shared files, as the AWS CLI writes them, read at config load.
const awsFiles = mkdtempSync(join(tmpdir(), "aws-shared-"));
process.env["AWS_SHARED_CREDENTIALS_FILE"] = join(awsFiles, "credentials");
process.env["AWS_CONFIG_FILE"] = join(awsFiles, "config");
writeFileSync(process.env["AWS_SHARED_CREDENTIALS_FILE"], `[gateway-keys]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = ${PROVIDER_KEY}\n`);
writeFileSync(process.env["AWS_CONFIG_FILE"], `[profile gateway-keys]\nregion = eu-north-1\n[profile gateway-role]\nrole_arn = ${ROLE}\nsource_profile = gateway-keys\n`);
afterAll(() => rmSync(awsFiles, { recursive: true, force: true }));

function bedrockConfig(fakeUrl: string): string {
  const signed = `api_base: ${fakeUrl}, aws_access_key_id: AKIDTEST, aws_secret_access_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: claude-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, ${signed}, aws_region_name: us-east-1 }
  - model_name: llama-bedrock
    litellm_params: { model: bedrock/converse/meta.llama3-70b-instruct-v1:0, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: titan-embed
    litellm_params: { model: bedrock/amazon.titan-embed-text-v2:0, ${signed} }
  - model_name: titan-v1-embed
    litellm_params: { model: bedrock/amazon.titan-embed-text-v1, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: cohere-embed
    litellm_params: { model: bedrock/cohere.embed-english-v3, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: role-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, ${signed}, aws_role_name: "${ROLE}", aws_sts_endpoint: ${fakeUrl}/sts }
  - model_name: web-identity-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, api_base: ${fakeUrl}, aws_role_name: "${ROLE}", aws_web_identity_token: os.environ/FAKE_PROVIDER_KEY, aws_sts_endpoint: ${fakeUrl}/sts }
  - model_name: wrong-identity-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, api_base: ${fakeUrl}, aws_role_name: "${ROLE}", aws_web_identity_token: not-the-token, aws_sts_endpoint: ${fakeUrl}/sts }
  - model_name: profile-bedrock
    litellm_params: { model: "bedrock/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc", ${signed} }
  - model_name: shared-file-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, api_base: ${fakeUrl}, aws_profile_name: gateway-keys }
  - model_name: shared-file-role-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, api_base: ${fakeUrl}, aws_profile_name: gateway-role, aws_sts_endpoint: ${fakeUrl}/sts }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } },
};

// Anthropic's list price of Claude 3.5 Haiku, per token.
const HAIKU = { input: 0.8e-6, output: 4e-6 };

describe("OpenAI and Anthropic clients on bedrock/ deployments", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, bedrockConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const upstream = () => provider.requests.at(-1)!;
  const anthropic = () => new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });

  it("signs a Converse call with SigV4, sends the conversation in Converse's shapes, and books it at Claude's price", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "claude-bedrock",
        max_tokens: 40,
        temperature: 0.3,
        stop: ["STOP"],
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hello bedrock" },
        ],
      })
      .withResponse();
    expect(data.choices[0]).toMatchObject({ message: { role: "assistant", content: "Echo: hello bedrock" }, finish_reason: "stop" });
    expect(upstream().path).toBe("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse");
    expect(upstream().headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/);
    expect(JSON.stringify(upstream())).not.toContain(PROVIDER_KEY);
    expect(upstream().body).toEqual({
      messages: [{ role: "user", content: [{ text: "hello bedrock" }] }],
      system: [{ text: "Be brief." }],
      inferenceConfig: { maxTokens: 40, temperature: 0.3, stopSequences: ["STOP"] },
      // Claude is asked which stop sequence ended its answer.
      additionalModelResponseFieldPaths: ["/stop_sequence"],
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    const { prompt_tokens, completion_tokens } = data.usage!;
    expect(row).toMatchObject({ custom_llm_provider: "bedrock", model: "anthropic.claude-3-5-haiku-20241022-v1:0", prompt_tokens, completion_tokens, usage_estimated: false });
    expect(row["spend"]).toBeCloseTo(prompt_tokens * HAIKU.input + completion_tokens * HAIKU.output, 12);
  });

  it("takes a Bedrock API key, strips converse/ from the model id, and leaves max_tokens to the model when the client sets none", async () => {
    const answer = await client.chat.completions.create({ model: "llama-bedrock", messages: [{ role: "user", content: "hi llama" }] });
    expect(answer.choices[0]!.message.content).toBe("Echo: hi llama");
    expect(upstream().path).toBe("/model/meta.llama3-70b-instruct-v1%3A0/converse");
    expect(upstream().headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(upstream().body).toEqual({ messages: [{ role: "user", content: [{ text: "hi llama" }] }] });
  });

  it("signs with a profile of AWS's shared files, in the profile's region, and assumes the role a profile names with its source profile's keys", async () => {
    const answer = await client.chat.completions.create({ model: "shared-file-bedrock", messages: [{ role: "user", content: "from a profile" }] });
    expect(answer.choices[0]?.message.content).toBe("Echo: from a profile");
    expect(upstream().headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDPROFILE\/\d{8}\/eu-north-1\/bedrock\/aws4_request, /);
    const before = provider.credentialsIssued;
    const role = await client.chat.completions.create({ model: "shared-file-role-bedrock", messages: [{ role: "user", content: "as a role" }] });
    expect(role.choices[0]?.message.content).toBe("Echo: as a role");
    expect(provider.credentialsIssued - before).toBe(1);
    expect(upstream().headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAFAKE\d+\//);
    const sts = provider.requests.filter((r) => r.path === "/sts").at(-1);
    expect(sts?.headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDPROFILE\/\d{8}\/us-west-2\/sts\/aws4_request/);
  });

  it("assumes a role through STS, with keys or a web identity token, once for many requests, and signs with its temporary credentials", async () => {
    for (const model of ["role-bedrock", "web-identity-bedrock"]) {
      const before = provider.credentialsIssued;
      const answers = await Promise.all([1, 2, 3].map((n) => client.chat.completions.create({ model, messages: [{ role: "user", content: `hi ${n}` }] })));
      expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(["Echo: hi 1", "Echo: hi 2", "Echo: hi 3"]);
      expect(provider.credentialsIssued - before).toBe(1);
      const calls = provider.requests.filter((r) => r.path.endsWith("/converse")).slice(-3);
      for (const call of calls) {
        expect(call.headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAFAKE\d+\//);
        expect(call.headers["x-amz-security-token"]).toMatch(/^fake-session-token-\d+$/);
      }
    }
    // AssumeRole is signed with the keys, for STS in the deployment's region (us-west-2 when unnamed); the web identity call carries its token instead.
    const sts = provider.requests.filter((r) => r.path === "/sts");
    expect(sts.map((r) => r.headers["authorization"]?.replace(/Credential=AKIDTEST\/\d{8}\//, "Credential=AKIDTEST/<day>/").split(",")[0])).toEqual([
      "AWS4-HMAC-SHA256 Credential=AKIDTEST/<day>/us-west-2/sts/aws4_request",
      undefined,
    ]);

    const refused = await client.chat.completions.create({ model: "wrong-identity-bedrock", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).message).toContain("AWS STS refused AssumeRoleWithWebIdentity for arn:aws:iam::123456789012:role/bedrock-caller (InvalidIdentityToken");
  });

  it("signs for the region of a model ARN", async () => {
    const answer = await client.chat.completions.create({ model: "profile-bedrock", messages: [{ role: "user", content: "hi" }] });
    expect(answer.choices[0]!.message.content).toBe("Echo: hi");
    expect(upstream().path).toBe(`/model/${encodeURIComponent("arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc")}/converse`);
    expect(upstream().headers["authorization"]).toContain("/eu-west-1/bedrock/aws4_request");
  });

  it("streams ConverseStream's frames as chunks, counting the usage; the client sees it only when it asked", async () => {
    const hi = [{ role: "user" as const, content: "one two three" }];
    const { data: plain, response } = await client.chat.completions.create({ model: "claude-bedrock", stream: true, messages: hi }).withResponse();
    let text = "";
    let finish: string | null | undefined;
    const withUsage: unknown[] = [];
    for await (const chunk of plain) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) withUsage.push(chunk);
    }
    expect({ text, finish, withUsage }).toEqual({ text: "Echo: one two three", finish: "stop", withUsage: [] });
    expect(upstream().path).toBe("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream");
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ prompt_tokens: 6, completion_tokens: 4, usage_estimated: false });

    const asked = await client.chat.completions.create({ model: "claude-bedrock", stream: true, stream_options: { include_usage: true }, messages: hi });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of asked) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 } });
  });

  it("calls tools, whole and streamed, and sends the results back as toolResult blocks", async () => {
    const ask = { role: "user" as const, content: "weather in Paris?" };
    const completion = await client.chat.completions.create({ model: "claude-bedrock", tools: [weatherTool], tool_choice: "required", messages: [ask] });
    const message = completion.choices[0]!.message;
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
    expect(message.tool_calls?.[0]).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } });
    expect(upstream().body).toMatchObject({
      toolConfig: { tools: [{ toolSpec: { name: "get_weather", inputSchema: { json: weatherTool.function.parameters } } }], toolChoice: { any: {} } },
    });

    const stream = await client.chat.completions.create({ model: "claude-bedrock", stream: true, tools: [weatherTool], messages: [ask] });
    let args = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ args: JSON.parse(args) as unknown, finish }).toEqual({ args: { location: "Paris" }, finish: "tool_calls" });

    const id = message.tool_calls![0]!.id;
    const answer = await client.chat.completions.create({
      model: "claude-bedrock",
      tools: [weatherTool],
      messages: [ask, message, { role: "tool", tool_call_id: id, content: '{"forecast":"sunny"}' }],
    });
    expect(answer.choices[0]!.message.content).toBe("Echo: weather in Paris?");
    expect((upstream().body as { messages: unknown[] }).messages.slice(1)).toEqual([
      { role: "assistant", content: [{ toolUse: { toolUseId: id, name: "get_weather", input: { location: "Paris" } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: id, content: [{ text: '{"forecast":"sunny"}' }] } }] },
    ]);
  });

  it("answers a JSON schema response_format, whole and streamed, through a forced tool whose input is the content", async () => {
    const schema = {
      type: "object",
      properties: { city: { type: "string" }, rank: { type: "integer", minimum: 1 } },
      required: ["city", "rank"],
      additionalProperties: false,
    };
    const response_format = { type: "json_schema" as const, json_schema: { name: "ranked_city", schema, strict: true } };
    const messages = [{ role: "user" as const, content: "Name a city." }];
    const completion = await client.chat.completions.parse({ model: "claude-bedrock", response_format, messages });
    expect(completion.choices[0]).toMatchObject({ message: { content: '{"city":"example","rank":1}', parsed: { city: "example", rank: 1 } }, finish_reason: "stop" });
    expect(completion.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(upstream().body).toMatchObject({
      toolConfig: { tools: [{ toolSpec: { name: "json_tool_call", inputSchema: { json: schema } } }], toolChoice: { tool: { name: "json_tool_call" } } },
    });

    const stream = await client.chat.completions.create({ model: "claude-bedrock", stream: true, response_format, messages });
    let content = "";
    let finish: string | null | undefined;
    let toolCalls = 0;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? "";
      toolCalls += chunk.choices[0]?.delta.tool_calls?.length ?? 0;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ content: JSON.parse(content) as unknown, finish, toolCalls }).toEqual({ content: { city: "example", rank: 1 }, finish: "stop", toolCalls: 0 });
    expect(upstream().path).toBe("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream");
  });

  it("answers an Anthropic client natively, whole and streamed, with the cache counts Bedrock reports", async () => {
    Object.assign(provider.behavior, { cachedPromptTokens: 2 });
    const reply = await anthropic().messages.create({
      model: "claude-bedrock",
      max_tokens: 30,
      top_k: 5,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: "hello there" }],
    });
    expect(reply).toMatchObject({ type: "message", role: "assistant", content: [{ type: "text", text: "Echo: hello there" }], stop_reason: "end_turn" });
    expect(reply.usage).toMatchObject({ cache_read_input_tokens: 2 });
    expect(upstream().body).toEqual({
      messages: [{ role: "user", content: [{ text: "hello there" }] }],
      system: [{ text: "Be brief." }, { cachePoint: { type: "default" } }],
      inferenceConfig: { maxTokens: 30 },
      additionalModelRequestFields: { top_k: 5 },
    });

    const stream = anthropic().messages.stream({ model: "claude-bedrock", max_tokens: 30, messages: [{ role: "user", content: "one two" }] });
    const names: string[] = [];
    stream.on("streamEvent", (event) => names.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: "text", text: "Echo: one two" }]);
    expect(final.usage).toMatchObject({ output_tokens: 3, cache_read_input_tokens: 2 });
    expect(names[0]).toBe("message_start");
    expect(names.slice(-2)).toEqual(["message_delta", "message_stop"]);
    const { response } = await stream.withResponse();
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ custom_llm_provider: "bedrock", completion_tokens: 3, usage_estimated: false });
    expect(row["prompt_tokens"]).toBe((final.usage.input_tokens ?? 0) + 2);
  });

  it("sends an Anthropic client's plain-text document as a document with a text source", async () => {
    const reply = await anthropic().messages.create({
      model: "claude-bedrock",
      max_tokens: 30,
      messages: [
        {
          role: "user",
          content: [
            { type: "document", title: "Notes", source: { type: "text", media_type: "text/plain", data: "The meeting is at noon." } },
            { type: "text", text: "when is it?" },
          ],
        },
      ],
    });
    expect(reply.content).toEqual([{ type: "text", text: "Echo: when is it?" }]);
    expect(upstream().body).toMatchObject({
      messages: [{ role: "user", content: [{ document: { format: "txt", name: "document-1", source: { text: "The meeting is at noon." } } }, { text: "when is it?" }] }],
    });
  });

  it("says which stop sequence ended Claude's answer, whole and streamed, as Anthropic's API does", async () => {
    const asked = { model: "claude-bedrock", max_tokens: 30, stop_sequences: ["NEVER", "three"], messages: [{ role: "user" as const, content: "one two three four" }] };
    const whole = await anthropic().messages.create(asked);
    expect(whole).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "three" });
    const streamed = await anthropic().messages.stream(asked).finalMessage();
    expect(streamed).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "three" });
  });

  it("maps Bedrock's errors to their statuses, in a stream too, with the secret kept out", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const limited = await client.chat.completions.create({ model: "claude-bedrock", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("7");
    delete provider.behavior.retryAfterSeconds;

    // The exception arrives in the same read as the frames before it: they reach the client first, as Anthropic's error event follows its deltas.
    Object.assign(provider.behavior, { streamErrorAfterChunks: 2 });
    const stream = anthropic().messages.stream({ model: "claude-bedrock", max_tokens: 10, messages: [{ role: "user", content: "one two three" }] });
    const names: string[] = [];
    let text = "";
    stream.on("streamEvent", (event) => names.push(event.type));
    stream.on("text", (delta) => (text += delta));
    const failed = await stream.finalMessage().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(APIError);
    expect((failed as APIError).error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(names).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta"]);
    expect(text).toBe("Echo: one ");
    delete provider.behavior.streamErrorAfterChunks;

    provider.behavior.requireApiKey = "another-secret-access-key";
    const denied = await client.chat.completions.create({ model: "claude-bedrock", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.APIError>).message).toContain("signature");
    expect(JSON.stringify((denied as InstanceType<typeof OpenAI.APIError>).error)).not.toContain(PROVIDER_KEY);

    const image = await client.chat.completions
      .create({ model: "llama-bedrock", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] })
      .catch((e: unknown) => e);
    expect(image).toBeInstanceOf(OpenAI.BadRequestError);
    expect((image as InstanceType<typeof OpenAI.APIError>).message).toContain("base64");
  });

  it("refuses what Converse cannot take naming Bedrock's models, not Anthropic's, for a model of another vendor", async () => {
    const refused = async (request: Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, "model">) => {
      const err = await client.chat.completions.create({ model: "llama-bedrock", ...request }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      return (err as InstanceType<typeof OpenAI.APIError>).message;
    };
    const role = await refused({ messages: [{ role: "function", name: "f", content: "1" }] });
    expect(role).toContain('role "function" are not supported by bedrock models');
    const tool = await refused({ messages: [{ role: "user", content: "hi" }], tools: [{ type: "custom", custom: { name: "grep" } }] });
    expect(tool).toContain("only function tools are supported by bedrock models");
    expect(provider.requests.filter((r) => r.path.endsWith("/converse"))).toEqual([]);
  });

  it("embeds with Titan, a call per text, and with Cohere, a call per list, booking the tokens Bedrock counted", async () => {
    const { data: titan, response } = await client.embeddings.create({ model: "titan-embed", input: ["one two", "three"], dimensions: 256 }).withResponse();
    expect(titan.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 256],
      [1, 256],
    ]);
    expect(titan.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const calls = provider.requests.filter((r) => r.path.endsWith("/invoke"));
    expect(calls.map((r) => [r.path, r.body])).toEqual(
      expect.arrayContaining([
        ["/model/amazon.titan-embed-text-v2%3A0/invoke", { inputText: "one two", dimensions: 256 }],
        ["/model/amazon.titan-embed-text-v2%3A0/invoke", { inputText: "three", dimensions: 256 }],
      ]),
    );
    expect(calls[0]!.headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ custom_llm_provider: "bedrock", prompt_tokens: 3 });

    const again = await client.embeddings.create({ model: "titan-embed", input: "three", dimensions: 256 });
    expect(again.data[0]!.embedding).toEqual(titan.data[1]!.embedding);

    const cohere = await client.embeddings.create({ model: "cohere-embed", input: ["one two", "three"] });
    expect(cohere.data.map((d) => d.embedding.length)).toEqual([1024, 1024]);
    expect(cohere.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(upstream()).toMatchObject({ path: "/model/cohere.embed-english-v3/invoke", body: { texts: ["one two", "three"], input_type: "search_document" } });

    const v1 = await client.embeddings.create({ model: "titan-v1-embed", input: "hi" });
    expect(v1.data[0]!.embedding).toHaveLength(1536);
    const sized = await client.embeddings.create({ model: "titan-v1-embed", input: "hi", dimensions: 256 }).catch((e: unknown) => e);
    expect(sized).toBeInstanceOf(OpenAI.BadRequestError);
    expect((sized as InstanceType<typeof OpenAI.APIError>).message).toContain("dimensions");

    const refused = await client.embeddings.create({ model: "claude-bedrock", input: "hi" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).message).toContain("amazon.titan-embed-text");
  });

  it("answers the Responses API through chat", async () => {
    const response = await client.responses.create({ model: "claude-bedrock", instructions: "Be brief.", input: "hello responses", max_output_tokens: 50 });
    expect(response.output_text).toBe("Echo: hello responses");
    expect(upstream().body).toMatchObject({ system: [{ text: "Be brief." }], inferenceConfig: { maxTokens: 50 } });
  });
});
