import { describe, expect, it } from "vitest";
import { maskedValues } from "../src/credential-admin/masked-values.js";

describe("maskedValues", () => {
  it("masks secret values as LiteLLM does, its first and last two characters around four asterisks, and a short one whole", () => {
    expect(maskedValues({ api_key: "sk-0123456789", aws_secret_access_key: "abcd", vertex_credentials: "{...long json...}", password: "hunter22" })).toEqual({
      api_key: "sk****89",
      aws_secret_access_key: "*****",
      vertex_credentials: "{.****.}",
      password: "hu****22",
    });
  });

  it("shows what is no secret, and an api_base without the credentials its URL holds", () => {
    expect(maskedValues({ api_base: "https://user:pa55word@llm.internal/v1?api_key=sk-in-query", api_version: "2024-10-21", region_name: "eu-west-1", rpm: 10 })).toEqual({
      api_base: "https://llm.internal/v1?api_key=%5Bredacted%5D",
      api_version: "2024-10-21",
      region_name: "eu-west-1",
      rpm: 10,
    });
  });

  it("masks every value in an object under a secret name, the secret names in any other object, and a secret that is no string whole", () => {
    expect(maskedValues({ extra_headers: { "x-team": "team-a-header" }, settings: { client_secret: "s3cr3t-value", region: "eu" }, api_key: 12345, token: null })).toEqual({
      extra_headers: { "x-team": "te****er" },
      settings: { client_secret: "s3****ue", region: "eu" },
      api_key: "*****",
      token: null,
    });
  });
});
