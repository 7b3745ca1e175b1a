import type { Deployment } from "../config/deployment.js";
import type { LiveModelList } from "../model-list.js";
import { isSecretParam, withoutCredentials } from "./sealed-params.js";

/** litellm_params as /model/info may show them: no keys, no credentials. */
export function publicParams(params: Record<string, unknown>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (isSecretParam(name)) continue;
    shown[name] = name === "api_base" && typeof value === "string" ? withoutCredentials(value) : value;
  }
  return shown;
}

/** One deployment in LiteLLM's /model/info shape. */
export function deploymentInfo(d: Deployment): Record<string, unknown> {
  const info = d.entry.model_info ?? {};
  return {
    model_name: d.entry.model_name,
    litellm_params: publicParams(d.entry.litellm_params),
    model_info: {
      ...info,
      id: d.id,
      db_model: d.source === "db",
      mode: d.mode ?? "chat",
      litellm_provider: d.provider,
      input_cost_per_token: d.price.input,
      output_cost_per_token: d.price.output,
      max_tokens: info.max_tokens ?? null,
    },
  };
}

const encoder = new TextEncoder();

/** A runtime model as /model/new and /model/update answer it: as /model/info shows it, or its name and id alone when this replica skipped it. */
export function storedModelAnswer(models: LiveModelList, id: string, modelName: unknown): { json: Uint8Array } {
  const deployment = models.table().groups.all().find((d) => d.id === id);
  return { json: encoder.encode(JSON.stringify(deployment ? deploymentInfo(deployment) : { model_name: modelName, model_info: { id } })) };
}
