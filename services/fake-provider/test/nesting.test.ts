import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider();
});

afterEach(async () => {
  await provider.close();
});

/** A JSON schema of arrays nested `depth` deep, as JSON text (JSON.stringify itself overflows the stack on deep values). */
const deepSchema = (depth: number) => '{"type":"array","items":'.repeat(depth) + '{"type":"string"}' + "}".repeat(depth);

const post = (path: string, body: string) =>
  fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body });

describe("bodies nested too deeply", () => {
  it("are refused as each provider refuses JSON it cannot parse, not by a dropped connection; a schema nested a thousand levels is answered", async () => {
    const anthropic = (depth: number) =>
      post("/v1/messages", `{"model":"m","max_tokens":20,"tools":[{"name":"x","input_schema":${deepSchema(depth)}}],"tool_choice":{"type":"tool","name":"x"},"messages":[{"role":"user","content":"x"}]}`);
    expect((await anthropic(1000)).status).toBe(200);
    const refused = await anthropic(20_000);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });

    const bedrock = await post("/model/m/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"x","inputSchema":{"json":${deepSchema(20_000)}}}}],"toolChoice":{"tool":{"name":"x"}}}}`);
    expect(bedrock.status).toBe(400);
    expect(bedrock.headers.get("x-amzn-errortype")).toMatch(/^ValidationException:/);

    // Mistral's 422 echoes an extra key's value, which JSON.stringify cannot write this deep.
    const mistral = await post("/mistral/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"extra":${"[".repeat(10_000)}${"]".repeat(10_000)}}`);
    expect(mistral.status).toBe(422);
    expect(await mistral.json()).toMatchObject({ message: { detail: [{ type: "json_invalid" }] } });
  });
});
