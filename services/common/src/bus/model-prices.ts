import { parseConfig, PRICE_SETTINGS, type GatewayConfig, type ModelEntry } from "../config.js";

/**
 * The live subject on which router replicas tell keys replicas the model
 * list that budgets are reserved against and model access groups are read
 * from: config.yaml's, as last reloaded, with the models added at run time.
 * A keys replica starts from its own config.yaml and follows these from
 * then on.
 */
export const MODEL_PRICES_SUBJECT = "keys.model-prices";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Prices, and the output limits a request without one of its own gets.
const PRICED_SETTINGS = [...PRICE_SETTINGS, "max_tokens", "max_completion_tokens"] as const;
const FALLBACK_SETTINGS = ["fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks"] as const;

function fallbacksOf(settings: GatewayConfig["litellm_settings"] | GatewayConfig["router_settings"]): Record<string, unknown> {
  return Object.fromEntries(FALLBACK_SETTINGS.filter((name) => settings[name] !== undefined).map((name) => [name, settings[name]]));
}

/** What prices requests, in config.yaml's shape: models, their prices, output limits and model_info (access groups), fallbacks and aliases; no keys or addresses. */
export function encodeModelPrices(config: GatewayConfig, runtime: readonly ModelEntry[]): Uint8Array {
  const entry = (e: ModelEntry) => {
    const priced = Object.fromEntries(PRICED_SETTINGS.map((name) => [name, e.litellm_params[name]]));
    return { model_name: e.model_name, litellm_params: { model: e.litellm_params.model, ...priced }, model_info: e.model_info };
  };
  const view = {
    model_list: [...config.model_list, ...runtime].map(entry),
    litellm_settings: { ...fallbacksOf(config.litellm_settings), model_alias_map: config.litellm_settings.model_alias_map },
    router_settings: { ...fallbacksOf(config.router_settings), model_group_alias: config.router_settings.model_group_alias },
  };
  return encoder.encode(JSON.stringify(view));
}

export function decodeModelPrices(bytes: Uint8Array): GatewayConfig {
  // JSON is YAML, and the config's own checks apply.
  return parseConfig(decoder.decode(bytes), {});
}
