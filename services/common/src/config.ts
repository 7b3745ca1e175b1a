import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";

// LiteLLM's config.yaml, with LiteLLM's names. Unknown settings are kept
// (looseObject) so a LiteLLM config with options we do not implement still
// loads; what we do read is validated.

const secret = z.string().min(1);

const litellmParams = z.looseObject({
  model: z.string().min(1),
  api_key: secret.optional(),
  api_base: z.string().url().optional(),
  api_version: z.string().optional(),
  timeout: z.number().positive().optional(),
  stream_timeout: z.number().positive().optional(),
  rpm: z.number().int().nonnegative().optional(),
  tpm: z.number().int().nonnegative().optional(),
  weight: z.number().nonnegative().optional(),
  order: z.number().int().optional(),
  drop_params: z.boolean().optional(),
  mock_response: z.string().optional(),
  input_cost_per_token: z.number().nonnegative().optional(),
  output_cost_per_token: z.number().nonnegative().optional(),
});

const modelInfo = z.looseObject({
  id: z.string().min(1).optional(),
  input_cost_per_token: z.number().nonnegative().optional(),
  output_cost_per_token: z.number().nonnegative().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_output_tokens: z.number().int().positive().optional(),
  mode: z.string().optional(),
});

const modelEntry = z.looseObject({
  model_name: z.string().min(1),
  litellm_params: litellmParams,
  model_info: modelInfo.optional(),
});

// [{ "smart-model": ["fast-model"] }], LiteLLM's fallback list form.
const fallbackList = z.array(z.record(z.string(), z.array(z.string())));

const configSchema = z.looseObject({
  model_list: z.array(modelEntry).default([]),
  litellm_settings: z
    .looseObject({
      drop_params: z.boolean().optional(),
      request_timeout: z.number().positive().optional(),
      num_retries: z.number().int().nonnegative().optional(),
      fallbacks: fallbackList.optional(),
    })
    .default({}),
  general_settings: z
    .looseObject({
      master_key: secret.optional(),
      max_request_size_mb: z.number().positive().optional(),
    })
    .default({}),
  router_settings: z.looseObject({}).default({}),
});

export type GatewayConfig = z.infer<typeof configSchema>;
export type ModelEntry = z.infer<typeof modelEntry>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const ENV_PREFIX = "os.environ/";

/** Replaces every "os.environ/NAME" string with that variable's value. */
function resolveEnv(value: unknown, path: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === "string" && value.startsWith(ENV_PREFIX)) {
    const name = value.slice(ENV_PREFIX.length);
    const resolved = env[name];
    if (resolved === undefined || resolved === "") {
      throw new ConfigError(`${path} names environment variable ${name}, which is not set`);
    }
    return resolved;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, `${path}[${i}]`, env));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnv(v, path ? `${path}.${k}` : k, env)]),
    );
  }
  return value;
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(`config is not valid YAML: ${(err as Error).message}`);
  }
  const result = configSchema.safeParse(resolveEnv(raw, "", env));
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`config is invalid: ${issues.join("; ")}`);
  }
  const config = result.data;
  if (config.general_settings.master_key === undefined && env["LITELLM_MASTER_KEY"]) {
    config.general_settings.master_key = env["LITELLM_MASTER_KEY"];
  }
  return config;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parseConfig(text, env);
}
