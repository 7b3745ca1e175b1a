import type { FakeProvider } from "@gateway/fake-provider";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's /rerank (and /v1/rerank, /v2/rerank) through a self-hosted
// server speaking OpenAI's API with the rerank route beside it (vLLM).
const mode = MODES[0]!;

function rerankConfig(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: reranker
    litellm_params: { model: hosted_vllm/BAAI/bge-reranker-v2-m3, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { input_cost_per_token: 0.00000002 }
  - model_name: azure-chat
    litellm_params: { model: azure/team-gpt, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

type Ranked = { results: { index: number; relevance_score: number; document?: { text: string } }[]; usage: { total_tokens: number } };

describe("reranking", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(mode, rerankConfig, (setup) => ({ provider, gateway } = setup));

  const post = (path: string, body: unknown) =>
    fetch(`${gateway.baseUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  it("ranks the documents on the deployment's server and books the tokens it read, at every path LiteLLM answers", async () => {
    const documents = ["Paris is the capital of France", "Bananas are yellow", "The capital of Italy is Rome"];
    for (const path of ["/rerank", "/v1/rerank", "/v2/rerank"]) {
      const res = await post(path, { model: "reranker", query: "capital of France", documents, top_n: 2 });
      expect(res.status, path).toBe(200);
      const ranked = (await res.json()) as Ranked;
      expect(ranked.results.map((r) => r.index)).toEqual([0, 2]);
      expect(ranked.results[0]?.document?.text).toBe(documents[0]);
      expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/rerank", headers: { authorization: `Bearer ${PROVIDER_KEY}` }, body: { model: "BAAI/bge-reranker-v2-m3", top_n: 2 } });
      const row = await gateway.spendLog(res.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "arerank", model_group: "reranker", prompt_tokens: ranked.usage.total_tokens, completion_tokens: 0, status: "success" });
      expect(row["spend"]).toBeCloseTo(ranked.usage.total_tokens * 2e-8, 15);
    }
  });

  it("answers what it cannot run with an OpenAI-style 400", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: "reranker", documents: ["a"] }, /query must be a non-empty string/],
      [{ model: "reranker", query: "q", documents: [] }, /documents must be a non-empty array/],
      [{ model: "reranker", query: "q", documents: ["a", null] }, /each of documents must be a string or an object/],
      [{ model: "reranker", query: "q", documents: [["a"]] }, /each of documents must be a string or an object/],
      [{ model: "claude", query: "q", documents: ["a"] }, /model claude does not rerank/],
      [{ model: "azure-chat", query: "q", documents: ["a"] }, /azure deployments do not rerank/],
    ];
    for (const [body, message] of cases) {
      const res = await post("/rerank", body);
      expect(res.status, String(message)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
  });
});
