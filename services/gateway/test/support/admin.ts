import { MASTER_KEY } from "./config.js";

/** Calls a LiteLLM-style management route, with the master key unless another key is given; returns status and JSON. */
export async function admin<T = Record<string, unknown>>(baseUrl: string, method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown, key = MASTER_KEY): Promise<{ status: number; json: T }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

export interface GeneratedKey {
  key: string;
  token: string;
  token_id: string;
  expires: string | null;
  models: string[];
  max_budget: number | null;
  spend: number;
}
