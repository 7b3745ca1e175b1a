import { deploymentPrice, flatCodec, type ModelEntry } from "@gateway/common";
import { CompleteResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import { describe, expect, it } from "vitest";
import { BatchUsage } from "../src/batch-cost.js";
import type { Deployment } from "../src/config/deployment.js";
import { finished, type Outcome } from "../src/outcome.js";

// gpt-4o-mini lists at $0.15 input and $0.60 output per million tokens.
function deployment(provider: string, modelInfo?: ModelEntry["model_info"]): Deployment {
  const entry = { model_name: "batch", litellm_params: { model: `${provider}/gpt-4o-mini` }, ...(modelInfo && { model_info: modelInfo }) } as ModelEntry;
  return { provider, price: deploymentPrice("gpt-4o-mini"), entry } as Deployment;
}

const line = (status: number, usage: object) => JSON.stringify({ id: "batch_req_1", custom_id: "a", response: { status_code: status, request_id: "r", body: { usage } }, error: null });

describe("a batch's usage and cost", () => {
  it("sums the answered requests' tokens and halves OpenAI's prices", () => {
    const batch = new BatchUsage(deployment("openai"));
    batch.add(line(200, { prompt_tokens: 1000, completion_tokens: 100 }));
    batch.add(line(200, { input_tokens: 2000, output_tokens: 300 }));
    batch.add(line(400, { prompt_tokens: 5000, completion_tokens: 5000 }));
    batch.add("not json");
    batch.add("");
    expect(batch.usage).toMatchObject({ promptTokens: 3000, completionTokens: 400 });
    expect(batch.usage.unitCost).toBeCloseTo(((3000 * 0.15 + 400 * 0.6) / 1e6) * 0.5, 15);
  });

  it("prices other providers' batches at their own prices, and any at input_cost_per_token_batches when set", () => {
    const vllm = new BatchUsage(deployment("hosted_vllm"));
    vllm.add(line(200, { prompt_tokens: 1000, completion_tokens: 100 }));
    expect(vllm.usage.unitCost).toBeCloseTo((1000 * 0.15 + 100 * 0.6) / 1e6, 15);
    const own = new BatchUsage(deployment("openai", { input_cost_per_token_batches: 1e-6, output_cost_per_token_batches: 2e-6 }));
    own.add(line(200, { prompt_tokens: 1000, completion_tokens: 100 }));
    expect(own.usage.unitCost).toBeCloseTo(1000e-6 + 200e-6, 15);
  });

  it("reaches a split edge whole in the Finished event when its sums pass 2^32", () => {
    // Each request's count is at most 2^28; seventeen of them pass 2^32,
    // whose low 32 bits the uint32 Finished kept (2^28 here).
    const batch = new BatchUsage(deployment("openai"));
    for (let i = 0; i < 17; i++) batch.add(line(200, { prompt_tokens: 2 ** 28, completion_tokens: 2 ** 28 }));
    const outcome = { usage: undefined } as Outcome;
    // The codec a split router's answers go out in.
    const codec = flatCodec(CompleteResponseSchema);
    const { event } = codec.decode(codec.encode(finished(outcome, deployment("openai"), batch.usage)));
    expect(event).toMatchObject({ case: "finished", value: { promptTokens: 17n * 2n ** 28n, completionTokens: 17n * 2n ** 28n } });
  });
});
