import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { describe, expect, it } from "vitest";
import { withoutGatewayFields } from "../src/gateway-fields.js";

describe("the gateway's own body fields", () => {
  const body = { model: "m", messages: [], cache: { ttl: 5 }, litellm_metadata: { user: "u" }, tags: ["a"], metadata: { tags: ["b"] }, temperature: 0 };

  it("are not sent to a provider, LiteLLM's metadata with them on OpenAI's chat-like APIs", () => {
    expect(withoutGatewayFields(body, CallType.CHAT_COMPLETIONS)).toEqual({ model: "m", messages: [], temperature: 0 });
    expect(withoutGatewayFields(body, CallType.EMBEDDINGS)).toEqual({ model: "m", messages: [], temperature: 0 });
  });

  it("leave the metadata of the APIs that have their own", () => {
    for (const callType of [CallType.RESPONSES, CallType.MESSAGES]) {
      expect(withoutGatewayFields(body, callType)).toEqual({ model: "m", messages: [], metadata: { tags: ["b"] }, temperature: 0 });
    }
  });

  it("leave a body without them as it is, not copied", () => {
    const plain = { model: "m", input: "x" };
    expect(withoutGatewayFields(plain, CallType.CHAT_COMPLETIONS)).toBe(plain);
  });
});
