import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// general_settings.enforce_user_param (every model call names its end user)
// and reject_clientside_metadata_tags (clients bring no tags of their own:
// only keys', teams' and deployments' tags count), checked at the edge.

const RULES = `  enforce_user_param: true
  reject_clientside_metadata_tags: true
`;

describe("enforce_user_param and reject_clientside_metadata_tags", () => {
  let gateway: ModeGateway;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(MODES[2]!, (url) => fakeOpenAIConfig(url, RULES), (setup) => {
    ({ gateway, openai } = setup);
  });

  const ask = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}, client = openai) =>
    client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], ...body }, { headers }).withResponse();

  it("refuses a model call that names no end user, and serves one that does, in the body or a header", async () => {
    await expect(ask()).rejects.toMatchObject({ status: 400, error: { message: "BadRequest since 'user' param not passed in. 'enforce_user_param'=True", type: "invalid_request_error", param: "user" } });
    const inBody = await ask({ user: "acme" });
    expect((await gateway.spendLog(inBody.response.headers.get("x-litellm-call-id")!))["end_user"]).toBe("acme");
    const inHeader = await ask({}, { "x-litellm-end-user-id": "globex" });
    expect((await gateway.spendLog(inHeader.response.headers.get("x-litellm-call-id")!))["end_user"]).toBe("globex");
    // Anthropic's Messages API names it in metadata.user_id.
    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "fast-model", max_tokens: 20, messages: [{ role: "user", content: "hi" }], metadata: { user_id: "initech" } }).withResponse();
    expect((await gateway.spendLog(message.response.headers.get("x-litellm-call-id")!))["end_user"]).toBe("initech");
  });

  it("refuses tags a client brings, however it brings them, and keeps a key's own", async () => {
    const refusal = { status: 400, error: { type: "invalid_request_error", param: "tags" } };
    await expect(ask({ user: "acme", metadata: { tags: ["free-tier"] } })).rejects.toMatchObject(refusal);
    await expect(ask({ user: "acme", tags: ["free-tier"] })).rejects.toMatchObject(refusal);
    await expect(ask({ user: "acme" }, { "x-litellm-tags": "free-tier" })).rejects.toMatchObject(refusal);
    const { json: key } = await admin<{ key: string }>(gateway.baseUrl, "POST", "/key/generate", { metadata: { tags: ["cron"] } });
    const tagged = await ask({ user: "acme" }, {}, new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 }));
    expect((await gateway.spendLog(tagged.response.headers.get("x-litellm-call-id")!))["request_tags"]).toEqual(["cron"]);
  });
});
