import type { ServerResponse } from "node:http";
import { countTokens, isRecord, sendJson, shown, type Json, type Reject } from "./reply.js";

// Reranking as vLLM, Together and Jina answer it (Cohere's shape): each
// document scored by the share of the query's words it holds, best first.

function words(text: string): string[] {
  return text.toLowerCase().split(/\W+/).filter(Boolean);
}

export function rerank(res: ServerResponse, body: Json, reject: Reject, id: string): void {
  const { model, query, documents } = body;
  if (typeof model !== "string") return reject("You must provide a model parameter.", "model");
  if (typeof query !== "string" || query === "") return reject("'query' must be a non-empty string.", "query");
  if (!Array.isArray(documents) || documents.length === 0) return reject("'documents' must be a non-empty array.", "documents");
  if (!documents.every((d: unknown) => typeof d === "string" || isRecord(d))) return reject("each of 'documents' must be a string or an object.", "documents");
  const texts = documents.map((d: string | Json) => (typeof d === "string" ? d : shown(d.text ?? "")));
  const asked = words(query);
  const scored = texts.map((text, index) => {
    const held = new Set(words(text));
    return { index, relevance_score: asked.filter((w) => held.has(w)).length / asked.length, text };
  });
  scored.sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  const topN = typeof body.top_n === "number" ? body.top_n : scored.length;
  const withDocuments = body.return_documents !== false;
  sendJson(res, 200, {
    id,
    model,
    results: scored.slice(0, topN).map(({ index, relevance_score, text }) => ({ index, relevance_score, ...(withDocuments && { document: { text } }) })),
    usage: { total_tokens: countTokens(query) + texts.reduce((sum, text) => sum + countTokens(text), 0) },
  });
}
