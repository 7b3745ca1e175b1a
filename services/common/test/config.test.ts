import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { asksLiteLLMMetrics, ConfigError, credentialsOf, credentialValues, ignoredSettings, includedFiles, loadConfig, parseConfig, parseModelEntry, unsetSettings, withCredential } from "../src/config.js";

const MODEL = `model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_key: os.environ/MY_PROVIDER_KEY }
`;

describe("config.yaml", () => {
  it("takes an empty section as no section: the master key then comes from LITELLM_MASTER_KEY", () => {
    const config = parseConfig(`model_list:\ngeneral_settings:\nlitellm_settings:\nrouter_settings:\n`, { LITELLM_MASTER_KEY: "sk-from-the-environment" });
    expect(config.general_settings.master_key).toBe("sk-from-the-environment");
    expect(config.model_list).toEqual([]);
  });

  it("keeps the file's master key over LITELLM_MASTER_KEY, as LiteLLM does", () => {
    const config = parseConfig(`general_settings:\n  master_key: sk-in-the-file\n`, { LITELLM_MASTER_KEY: "sk-from-the-environment" });
    expect(config.general_settings.master_key).toBe("sk-in-the-file");
  });

  it("sets LiteLLM's environment_variables before os.environ/ references are read, over the process's own", () => {
    const env: NodeJS.ProcessEnv = { MY_PROVIDER_KEY: "sk-started-with" };
    const config = parseConfig(`${MODEL}environment_variables:\n  MY_PROVIDER_KEY: sk-from-the-config\n  RETRIES: 3\n`, env);
    expect(config.model_list[0]?.litellm_params.api_key).toBe("sk-from-the-config");
    // Set for whatever else reads the environment, as LiteLLM sets them.
    expect(env).toMatchObject({ MY_PROVIDER_KEY: "sk-from-the-config", RETRIES: "3" });
  });

  it("sets nothing for an environment_variables name without a value, as LiteLLM's own example leaves one", () => {
    const env: NodeJS.ProcessEnv = { REDIS_PASSWORD: "from-the-process" };
    parseConfig(`environment_variables:\n  REDIS_PASSWORD:\n  OTHER: x\n`, env);
    expect(env).toEqual({ REDIS_PASSWORD: "from-the-process", OTHER: "x" });
  });

  it("refuses an environment_variables block that is not a map of names to values", () => {
    expect(() => parseConfig(`environment_variables: [A, B]\n`, {})).toThrow(ConfigError);
    expect(() => parseConfig(`environment_variables:\n  A: { nested: true }\n`, {})).toThrow("environment_variables.A");
  });

  it("fills a model's unset litellm_params from the credential_list entry its litellm_credential_name names; what the entry sets wins", () => {
    const text = `model_list:
  - model_name: eu
    litellm_params: { model: azure/gpt-4o, litellm_credential_name: azure-eu }
  - model_name: eu-other-version
    litellm_params: { model: azure/gpt-4o, litellm_credential_name: azure-eu, api_version: "2025-01-01" }
credential_list:
  - credential_name: azure-eu
    credential_values:
      api_key: os.environ/AZURE_EU_KEY
      api_base: https://eu.example.openai.azure.com
      api_version: "2024-10-21"
    credential_info: { description: EU region }
`;
    const config = parseConfig(text, { AZURE_EU_KEY: "sk-eu-secret" });
    expect(config.model_list[0]?.litellm_params).toMatchObject({ api_key: "sk-eu-secret", api_base: "https://eu.example.openai.azure.com", api_version: "2024-10-21" });
    expect(config.model_list[1]?.litellm_params).toMatchObject({ api_key: "sk-eu-secret", api_version: "2025-01-01" });
    expect(ignoredSettings(config)).toEqual([]);
    // A credential's variables are read as a model's own are.
    expect(() => parseConfig(text, {})).toThrow("credential_list[0].credential_values.api_key names environment variable AZURE_EU_KEY, which is not set");
    // A runtime model (POST /model/new) may name one too.
    const added = parseModelEntry({ model_name: "added", litellm_params: { model: "azure/gpt-4o-mini", litellm_credential_name: "azure-eu" } }, "model", credentialsOf(config));
    expect(added.litellm_params.api_key).toBe("sk-eu-secret");
  });

  it("leaves a litellm_credential_name not in credential_list to the router's stored credentials, and refuses a name used twice and a credential's value the model cannot take", () => {
    const model = `model_list:\n  - model_name: m\n    litellm_params: { model: openai/gpt-4o, litellm_credential_name: prod }\n`;
    const config = parseConfig(`${model}credential_list:\n  - { credential_name: staging, credential_values: { api_key: k } }\n`, {});
    expect(config.model_list[0]?.litellm_params).toEqual({ model: "openai/gpt-4o", litellm_credential_name: "prod" });
    expect(() => withCredential(config.model_list[0]!, credentialsOf(config), "model_list[0]")).toThrow(
      'model_list[0].litellm_params.litellm_credential_name: no credential named "prod" in credential_list or stored with POST /credentials (there are staging)',
    );
    expect(withCredential(config.model_list[0]!, new Map([["prod", { api_key: "sk-stored" }]]), "model_list[0]").litellm_params.api_key).toBe("sk-stored");
    expect(credentialValues({ api_key: "os.environ/STORED_KEY", api_base: "https://x" }, "stored", { STORED_KEY: "sk-env" })).toEqual({ api_key: "sk-env", api_base: "https://x" });
    expect(() => credentialValues({ api_key: "os.environ/STORED_KEY" }, 'credential "prod"', {})).toThrow('environment variable not set: credential "prod".api_key (STORED_KEY)');
    const twice = `credential_list:\n  - { credential_name: prod, credential_values: { api_key: a } }\n  - { credential_name: prod, credential_values: { api_key: b } }\n`;
    expect(() => parseConfig(`${model}${twice}`, {})).toThrow('credential_list[1].credential_name: "prod" is named twice');
    const badBase = `credential_list:\n  - { credential_name: prod, credential_values: { api_base: "ftp://x" } }\n`;
    expect(() => parseConfig(`${model}${badBase}`, {})).toThrow('with credential "prod": model_list[0].litellm_params.api_base: api_base must be an http:// or https:// URL');
  });

  it("takes allowed_ips of addresses and CIDR ranges, and refuses anything else naming the entry", () => {
    const config = parseConfig(`general_settings:\n  allowed_ips: ["127.0.0.1", "10.0.0.0/8", "::1", "fd7a:115c:a1e0::/48"]\n`, {});
    expect(config.general_settings.allowed_ips).toHaveLength(4);
    for (const bad of ["localhost", "10.0.0.0/33", "10.0.0.0/8/1", "::1/129", "10.0.0.0/x"]) {
      expect(() => parseConfig(`general_settings:\n  allowed_ips: ["${bad}"]\n`, {}), bad).toThrow("expected an IP address or a CIDR range such as 10.0.0.0/8");
    }
  });

  it("refuses a key's or user's default or bound rate limit past 2147483647, which every key or user made with it failed on, naming it", () => {
    for (const [section, field, value] of [
      ["default_key_generate_params", "rpm_limit", 2 ** 32 + 5],
      ["upperbound_key_generate_params", "tpm_limit", 2 ** 31],
      ["default_internal_user_params", "max_parallel_requests", 1e30],
    ] as const) {
      expect(() => parseConfig(`litellm_settings:\n  ${section}: { ${field}: ${value} }\n`, {}), section).toThrow(`litellm_settings.${section}.${field}`);
    }
    const config = parseConfig(`litellm_settings:\n  upperbound_key_generate_params: { rpm_limit: 2147483647 }\n`, {});
    expect(config.litellm_settings.upperbound_key_generate_params?.rpm_limit).toBe(2_147_483_647);
  });

  it("refuses LiteLLM's route restrictions it does not implement, which ignored would leave those routes open", () => {
    for (const name of ["allowed_routes", "admin_only_routes"]) {
      expect(() => parseConfig(`general_settings:\n  ${name}: ["/chat/completions"]\n`, {})).toThrow(
        `general_settings.${name} is not implemented here, and without it the gateway would serve what it is meant to refuse: remove it`,
      );
    }
  });

  it("still names a variable that nothing sets", () => {
    expect(() => parseConfig(MODEL, {})).toThrow("names environment variable MY_PROVIDER_KEY, which is not set");
  });
  it("leaves the database and settings it does not read unset when their variables are not, naming them", () => {
    const config = parseConfig(
      `${MODEL}general_settings:\n  database_url: os.environ/DATABASE_URL\nrouter_settings:\n  redis_host: os.environ/REDIS_HOST\n  redis_port: 6379\n`,
      { MY_PROVIDER_KEY: "sk-set" },
    );
    expect(config.general_settings.database_url).toBeUndefined();
    expect(unsetSettings(config)).toEqual(["general_settings.database_url (DATABASE_URL)", "router_settings.redis_host (REDIS_HOST)"]);
    expect(ignoredSettings(config)).toEqual(["router_settings.redis_port"]);
    expect(unsetSettings(parseConfig(MODEL, { MY_PROVIDER_KEY: "sk-set" }))).toEqual([]);
    // A setting the gateway reads still needs its variable.
    expect(() => parseConfig(`general_settings:\n  master_key: os.environ/MY_MASTER_KEY\n`, {})).toThrow("general_settings.master_key names environment variable MY_MASTER_KEY, which is not set");
  });

  it("names the fields it does not read inside the key defaults and the routing strategy's arguments", () => {
    const config = parseConfig(
      `litellm_settings:
  default_key_generate_params: { max_budget: 1, team_id: t1 }
  upperbound_key_generate_params: { rpm_limit: 10, max_budget_per_model: 2 }
router_settings:
  routing_strategy_args: { lowest_latency_buffer: 0.5, ttl: 60 }
`,
      {},
    );
    expect(ignoredSettings(config)).toEqual([
      "litellm_settings.default_key_generate_params.team_id",
      "litellm_settings.upperbound_key_generate_params.max_budget_per_model",
      "router_settings.routing_strategy_args.ttl",
    ]);
  });

  it("names model_info.supported_environments, which LiteLLM acts on and this gateway does not", () => {
    const config = parseConfig(`model_list:\n  - { model_name: a, litellm_params: { model: openai/gpt-4o }, model_info: { supported_environments: [production] } }\n`, {});
    expect(ignoredSettings(config)).toEqual(["model_list[].model_info.supported_environments"]);
  });

  it("leaves unset what sits inside a setting it does not read, however deep, and still needs variables deep inside one it reads", () => {
    const config = parseConfig(
      `model_list:
  - model_name: a
    litellm_params: { model: openai/gpt-4o, api_key: os.environ/MY_PROVIDER_KEY }
    model_info: { custom_tokenizer: { identifier: x/y, auth_token: os.environ/HF_TOKEN } }
litellm_settings:
  default_team_settings: [{ team_id: t, langfuse_public_key: os.environ/LANGFUSE_PUBLIC }]
guardrails:
  - guardrail_name: g
    litellm_params: { api_key: os.environ/GUARD_KEY }
`,
      { MY_PROVIDER_KEY: "sk-set" },
    );
    expect(unsetSettings(config)).toEqual([
      "model_list[0].model_info.custom_tokenizer.auth_token (HF_TOKEN)",
      "litellm_settings.default_team_settings[0].langfuse_public_key (LANGFUSE_PUBLIC)",
      "guardrails[0].litellm_params.api_key (GUARD_KEY)",
    ]);
    expect(() => parseConfig(`general_settings:\n  pass_through_endpoints: [{ path: /x, target: "http://t", headers: { Authorization: os.environ/TARGET_KEY } }]\n`, {})).toThrow(
      "general_settings.pass_through_endpoints[0].headers.Authorization names environment variable TARGET_KEY, which is not set",
    );
  });

  it("reads general_settings.database_url and store_model_in_db, as LiteLLM's configs set them", () => {
    const config = parseConfig(`general_settings:\n  database_url: os.environ/MY_DATABASE_URL\n  store_model_in_db: true\n`, { MY_DATABASE_URL: "postgres://u:p@db:5432/gw" });
    expect(config.general_settings.database_url).toBe("postgres://u:p@db:5432/gw");
    expect(ignoredSettings(config)).toEqual([]);
  });

  it("names the LiteLLM settings it accepts but does not act on, once per deployment setting", () => {
    const config = parseConfig(
      `model_list:
  - model_name: a
    litellm_params: { model: openai/gpt-4o, temperature: 0.2, rpm: 10, max_retries: 0, input_cost_per_pixel: 0.1 }
    model_info: { id: a, base_model: gpt-4o, supports_vision: true }
  - model_name: b
    litellm_params: { model: openai/gpt-4o-mini, temperature: 0.5, max_retries: 1, extra_headers: { X-Team: a }, extra_body: { top_k: 1 } }
litellm_settings: { drop_params: true, cache: true, cache_params: { type: redis, host: localhost, ttl: 60 }, success_callback: [langfuse, prometheus], callbacks: datadog, num_retries: 1 }
general_settings: { master_key: sk-x, alerting: [slack] }
router_settings: { routing_strategy: simple-shuffle, redis_host: localhost }
environment_variables: { A: b }
`,
      {},
    );
    expect(ignoredSettings(config)).toEqual([
      "model_list[].litellm_params.max_retries",
      "model_list[].litellm_params.input_cost_per_pixel",
      "litellm_settings.cache_params.host",
      "general_settings.alerting",
      "router_settings.redis_host",
      "litellm_settings.callbacks: datadog",
      "litellm_settings.success_callback: langfuse",
    ]);
    expect(asksLiteLLMMetrics(config)).toBe(true);
    expect(asksLiteLLMMetrics(parseConfig("litellm_settings: { callbacks: [langfuse] }\n", {}))).toBe(false);
  });

  it("checks a deployment's call parameters and headers, naming the entry", () => {
    const entry = (params: string) => () => parseConfig(`model_list:\n  - { model_name: a, litellm_params: { model: openai/gpt-4o, ${params} } }\n`, {});
    expect(entry("temperature: 0.2, stop: [END], response_format: { type: json_object }, encoding_format: float")).not.toThrow();
    expect(entry("temperature: hot")).toThrow(/model_list\.0\.litellm_params\.temperature/);
    expect(entry("top_p: 2")).toThrow(/model_list\.0\.litellm_params\.top_p/);
    expect(entry("max_tokens: 0")).toThrow(/litellm_params\.max_tokens/);
    expect(entry("extra_headers: { X-Team: 1 }")).toThrow(/litellm_params\.extra_headers\.X-Team/);
    expect(entry("extra_body: [1]")).toThrow(/litellm_params\.extra_body/);
    expect(entry('api_base: "http://127.0.0.1:8000/v1"')).not.toThrow();
    for (const base of ["ftp://x", "localhost:8000", "not a url"]) expect(entry(`api_base: "${base}"`), base).toThrow(/api_base must be an http:\/\/ or https:\/\/ URL/);
    expect(() => parseConfig(`model_list:\n  - { model_name: ${"m".repeat(257)}, litellm_params: { model: openai/x } }\n`, {})).toThrow(/model_name/);
  });

  describe("include:", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-include-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string) => {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };

    it("adds each file's sections, in order, as LiteLLM does: lists extend, the rest replaces", () => {
      file("models.yaml", "model_list:\n  - { model_name: b, litellm_params: { model: openai/gpt-4o } }\nlitellm_settings: { drop_params: true }\n");
      file("more/models.yaml", "model_list:\n  - { model_name: c, litellm_params: { model: os.environ/C_MODEL } }\n");
      const path = file(
        "config.yaml",
        "include: [models.yaml, more/models.yaml]\nmodel_list:\n  - { model_name: a, litellm_params: { model: openai/gpt-4o-mini } }\nlitellm_settings: { request_timeout: 5 }\n",
      );
      const config = loadConfig(path, { C_MODEL: "openai/o4-mini" });
      expect(config.model_list.map((m) => [m.model_name, m.litellm_params.model])).toEqual([
        ["a", "openai/gpt-4o-mini"],
        ["b", "openai/gpt-4o"],
        ["c", "openai/o4-mini"],
      ]);
      expect(config.litellm_settings).toEqual({ drop_params: true });
      expect(ignoredSettings(config)).toEqual([]);
      expect(includedFiles(readFileSync(path, "utf8"))).toEqual(["models.yaml", "more/models.yaml"]);
    });

    it("names a file it cannot read, and refuses an include that is not a list of files", () => {
      expect(() => loadConfig(file("missing.yaml", "include: [nowhere.yaml]\n"), {})).toThrow(/include: cannot read nowhere\.yaml \(.*nowhere\.yaml\): ENOENT/);
      expect(() => loadConfig(file("scalar.yaml", "include: models.yaml\n"), {})).toThrow(/include: expected a list of file paths/);
      expect(() => loadConfig(file("list.yaml", "include: [items.yaml]\n"), {})).toThrow(ConfigError);
      file("items.yaml", "- a\n- b\n");
      expect(() => loadConfig(join(dir, "list.yaml"), {})).toThrow(/items\.yaml is not a map of settings/);
      expect(() => parseConfig("include: [models.yaml]\n", {})).toThrow(/only a config file read from disk/);
    });
  });
});
