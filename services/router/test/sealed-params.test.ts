import { ConfigError } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { isSecretParam, ParamSeal, withoutCredentials } from "../src/model-admin/sealed-params.js";

describe("a runtime model's secret parameters at rest", () => {
  const seal = new ParamSeal("sk-salt-or-master-0123456789");
  const params = {
    model: "openai/gpt-4o-mini",
    api_base: "http://10.0.0.7:8000/v1",
    api_key: "sk-provider-literal-abcdef",
    extra_headers: { "x-proxy-token": "proxy-secret" },
    aws_secret_access_key: "os.environ/AWS_SECRET",
    temperature: 0.2,
    input_cost_per_token: 0.000001,
  };

  it("are sealed, each on its own, leaving the rest and os.environ/ references readable", () => {
    const sealed = seal.seal(params);
    expect(JSON.stringify(sealed)).not.toMatch(/sk-provider-literal|proxy-secret/);
    expect(sealed).toMatchObject({ model: params.model, api_base: params.api_base, aws_secret_access_key: "os.environ/AWS_SECRET", temperature: 0.2, input_cost_per_token: 0.000001 });
    expect(sealed["api_key"]).toMatch(/^sealed:v1:/);
    expect(sealed["extra_headers"]).toMatch(/^sealed:v1:/);
    // A fresh nonce each time: the same key sealed twice does not look the same.
    expect(seal.seal(params)["api_key"]).not.toBe(sealed["api_key"]);
    expect(seal.open(sealed)).toEqual(params);
  });

  it("are the credentials by name, not prices per token", () => {
    expect(["api_key", "aws_session_token", "vertex_credentials", "extra_headers", "password"].every(isSecretParam)).toBe(true);
    expect(["input_cost_per_token", "output_cost_per_token", "max_tokens", "api_base", "model", "litellm_credential_name"].some(isSecretParam)).toBe(false);
  });

  it("take in an api_base that holds credentials, sealed whole, and only such a one", () => {
    for (const api_base of ["https://user:pa55@llm.internal/v1", "https://llm.internal/v1?api-version=1&key=AIza-secret"]) {
      const sealed = seal.seal({ ...params, api_base });
      expect(sealed["api_base"]).toMatch(/^sealed:v1:/);
      expect(seal.open(sealed)["api_base"]).toBe(api_base);
      expect(seal.unsealed({ model: params.model, api_key: "os.environ/KEY", api_base })).toBe(true);
    }
    expect(seal.seal({ api_base: "https://llm.internal/v1?api-version=1" })).toEqual({ api_base: "https://llm.internal/v1?api-version=1" });
  });

  it("are left out of a URL as it is shown: user:password and credential query values", () => {
    expect(withoutCredentials("https://user:pa55@llm.internal/v1")).toBe("https://llm.internal/v1");
    expect(withoutCredentials("https://llm.internal/v1?api-version=1&key=AIza-secret&api_key=k2")).toBe("https://llm.internal/v1?api-version=1&key=%5Bredacted%5D&api_key=%5Bredacted%5D");
    expect(withoutCredentials("https://llm.internal/v1?api-version=1")).toBe("https://llm.internal/v1?api-version=1");
    expect(withoutCredentials("not a url")).toBe("not a url");
  });

  it("open as they are when stored before sealing, which they are found to be, and are sealed once", () => {
    expect(seal.open(params)).toEqual(params);
    expect(seal.unsealed(params)).toBe(true);
    const sealed = seal.seal(params);
    expect(seal.unsealed(sealed)).toBe(false);
    expect(seal.seal(sealed)).toEqual(sealed);
    expect(seal.unsealed({ model: "m", api_key: "os.environ/KEY" })).toBe(false);
  });

  it("cannot be opened under another key, or once tampered with", () => {
    const sealed = seal.seal(params);
    expect(() => new ParamSeal("sk-another-salt-0123456789").open(sealed)).toThrow(ConfigError);
    expect(() => new ParamSeal("sk-another-salt-0123456789").open(sealed)).toThrow(/litellm_params\.api_key was stored under another LITELLM_SALT_KEY/);
    expect(() => new ParamSeal("sk-another-salt-0123456789").open(sealed, "credential_values")).toThrow(/^credential_values\.api_key was stored under another/);
    const value = sealed["api_key"] as string;
    const tampered = `${value.slice(0, -4)}${value.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    expect(() => seal.open({ ...sealed, api_key: tampered })).toThrow(ConfigError);
  });
});
