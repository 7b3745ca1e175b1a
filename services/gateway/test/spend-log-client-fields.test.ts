import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// What a client has the ledger keep with a request: its session (LiteLLM's
// session_id, from litellm_session_id or Claude Code's
// x-claude-code-session-id header), by which /spend/logs lists a session's
// requests, and its spend_logs_metadata; no provider is sent the gateway's
// fields.

describe("a request's session and spend_logs_metadata in the ledger", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(MODES[0]!, providersConfig, (setup) => ({ provider, gateway } = setup));

  const sessionLogs = async (sessionId: string) =>
    (await admin<{ request_id: string; session_id: string; model_group: string }[]>(gateway.baseUrl, "GET", `/spend/logs?session_id=${encodeURIComponent(sessionId)}`)).json;

  it("books the session each request names, by body field or header, and lists a session's requests", async () => {
    const session = `session-${Date.now()}`;
    const openai = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const chat = await openai.chat.completions
      .create({ model: "gpt", messages: [{ role: "user", content: "first" }], litellm_session_id: session } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse();
    expect(provider.requests.at(-1)?.body).not.toHaveProperty("litellm_session_id");
    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0, defaultHeaders: { "x-claude-code-session-id": session } });
    const message = await anthropic.messages.create({ model: "claude", max_tokens: 20, messages: [{ role: "user", content: "second" }] }).withResponse();
    const other = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "elsewhere" }] }).withResponse();

    const ids = [chat, message].map((r) => r.response.headers.get("x-litellm-call-id")!);
    for (const id of [...ids, other.response.headers.get("x-litellm-call-id")!]) await gateway.spendLog(id);
    const rows = await sessionLogs(session);
    expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    expect(rows.map((r) => [r.model_group, r.session_id]).sort()).toEqual([
      ["claude", session],
      ["gpt", session],
    ]);
    expect((await gateway.spendLog(other.response.headers.get("x-litellm-call-id")!))["session_id"]).toBe("");
  });

  it("keeps a request's spend_logs_metadata, from the header or the body's metadata, and refuses one that is not an object", async () => {
    const openai = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const metadataOf = async (id: string) => ((await gateway.spendLog(id))["metadata"] as { spend_logs_metadata: unknown }).spend_logs_metadata;
    const fromBody = await openai.chat.completions
      .create({ model: "gpt", messages: [{ role: "user", content: "meta" }], metadata: { spend_logs_metadata: { project: "homelab", run: 7 } } } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse();
    const fromHeader = await openai.chat.completions
      .create({ model: "gpt", messages: [{ role: "user", content: "meta" }] }, { headers: { "x-litellm-spend-logs-metadata": JSON.stringify({ job: "nightly" }) } })
      .withResponse();
    const plain = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "meta" }] }).withResponse();
    expect(await metadataOf(fromBody.response.headers.get("x-litellm-call-id")!)).toEqual({ project: "homelab", run: 7 });
    expect(await metadataOf(fromHeader.response.headers.get("x-litellm-call-id")!)).toEqual({ job: "nightly" });
    expect(await metadataOf(plain.response.headers.get("x-litellm-call-id")!)).toBeNull();
    for (const headers of [{ "x-litellm-spend-logs-metadata": "[1, 2]" }, { "x-litellm-spend-logs-metadata": JSON.stringify({ big: "x".repeat(9000) }) }]) {
      const refused = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "meta" }] }, { headers }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("x-litellm-spend-logs-metadata");
    }
  });
});
