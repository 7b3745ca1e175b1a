import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { PassThroughRoutes } from "../src/pass-through-routes.js";

describe("pass-through routes", () => {
  const routes = PassThroughRoutes.fromConfig(
    parseConfig(`
general_settings:
  pass_through_endpoints:
    - { path: /rerank, target: "https://api.example.com/v1/rerank" }
    - { path: /bria, target: "https://engine.example.com/", include_subpath: true }
    - { path: /bria/special, target: "https://special.example.com/x", include_subpath: true }
`),
  )!;

  it("matches a path exactly, or under an include_subpath endpoint, the longest first, with the query", () => {
    expect(routes.match("/rerank?x=1")?.url).toBe("https://api.example.com/v1/rerank?x=1");
    expect(routes.match("/rerank/more")).toBeUndefined();
    expect(routes.match("/bria")?.url).toBe("https://engine.example.com/");
    expect(routes.match("/bria/v1/text-to-image?seed=2")?.url).toBe("https://engine.example.com/v1/text-to-image?seed=2");
    expect(routes.match("/bria/special/a/b")?.url).toBe("https://special.example.com/x/a/b");
    expect(routes.match("/briar")).toBeUndefined();
    expect(routes.match("/v1/chat/completions")).toBeUndefined();
  });

  it("fills in the environment's variables in headers, alone or after a word", () => {
    const config = parseConfig(
      `
general_settings:
  pass_through_endpoints:
    - path: /r
      target: "https://a.example"
      headers: { Authorization: "bearer os.environ/PT_SECRET", x-api-key: os.environ/PT_SECRET, content-type: application/json }
`,
      { PT_SECRET: "s3cret-value" },
    );
    expect(config.general_settings.pass_through_endpoints?.[0]?.headers).toEqual({ Authorization: "bearer s3cret-value", "x-api-key": "s3cret-value", "content-type": "application/json" });
    expect(() => parseConfig(`general_settings: { pass_through_endpoints: [{ path: /r, target: "https://a.example", headers: { Authorization: "Bearer os.environ/PT_UNSET" } }] }`, {})).toThrow(/PT_UNSET/);
  });

  it("is absent without endpoints, and refuses malformed ones", () => {
    expect(PassThroughRoutes.fromConfig(parseConfig("general_settings: {}"))).toBeUndefined();
    expect(() => parseConfig(`general_settings: { pass_through_endpoints: [{ path: rerank, target: "https://a.example" }] }`)).toThrow(/path/);
    expect(() => parseConfig(`general_settings: { pass_through_endpoints: [{ path: /r, target: "ftp://a.example" }] }`)).toThrow(/target/);
    expect(() => parseConfig(`general_settings: { pass_through_endpoints: [{ path: /r, target: "https://a.example", methods: [TRACE] }] }`)).toThrow(/methods/);
  });
});
