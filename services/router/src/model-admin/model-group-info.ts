import type { ModelGroups } from "../config/model-groups.js";

const encoder = new TextEncoder();

// The capabilities LiteLLM's model_info may claim for a deployment; a group
// has one when any of its deployments says so.
const CAPABILITIES = ["supports_function_calling", "supports_parallel_function_calling", "supports_vision", "supports_reasoning", "supports_web_search"];

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/**
 * A model group (or an alias, as its group) as LiteLLM's /model_group/info
 * shows it: its providers; the smallest context and output any of its
 * deployments allows, as model_info says; the dearest prices among them;
 * its mode; its deployments' rpm and tpm summed; what model_info says they
 * can do. JSON.
 */
export function modelGroupInfo(groups: ModelGroups, name: string): Uint8Array {
  const deployments = groups.resolve(name)?.deployments ?? [];
  const infos = deployments.map((d) => (d.entry.model_info ?? {}) as Record<string, unknown>);
  const least = (field: string) => {
    const given = infos.map((info) => info[field]).filter(isNumber);
    return given.length > 0 ? Math.min(...given) : null;
  };
  const summed = (values: (number | undefined)[]) => (values.some(isNumber) ? values.filter(isNumber).reduce((a, b) => a + b, 0) : null);
  return encoder.encode(
    JSON.stringify({
      model_group: name,
      providers: [...new Set(deployments.map((d) => d.provider))],
      max_input_tokens: least("max_input_tokens"),
      max_output_tokens: least("max_output_tokens") ?? least("max_tokens"),
      input_cost_per_token: Math.max(0, ...deployments.map((d) => d.price.input)),
      output_cost_per_token: Math.max(0, ...deployments.map((d) => d.price.output)),
      mode: deployments[0]?.mode ?? "chat",
      tpm: summed(deployments.map((d) => d.tpm)),
      rpm: summed(deployments.map((d) => d.rpm)),
      ...Object.fromEntries(CAPABILITIES.map((capability) => [capability, infos.some((info) => info[capability] === true)])),
    }),
  );
}
