import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// A provider that reports a fraction of a token (no real one does; a proxy
// in front of one might) is booked in whole tokens. The usage event's token
// fields are uint32s, whose encoding refuses a fraction: such a call's event
// could not be written, and the call was never booked.

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`a provider's fractional token counts, ${mode.name}`, () => {
    let provider: FakeProvider;
    let gateway: ModeGateway;
    fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway } = setup));

    it("books the call with the counts' whole tokens", async () => {
      provider.behavior.promptTokens = 12.5;
      const openai = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      const answer = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "half a token" }] }).withResponse();
      const row = await gateway.spendLog(answer.response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ prompt_tokens: 12, total_tokens: 12 + answer.data.usage!.completion_tokens });
    });
  });
}
