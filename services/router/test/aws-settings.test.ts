import { listedModel, parseConfig, unpricedModels } from "@gateway/common";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { awsSettings } from "../src/config/aws-settings.js";
import { loadRefusal } from "./support/load-refusal.js";

const CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0";
const params = (p: Record<string, string> = {}) => ({ model: `bedrock/${CLAUDE}`, ...p });
const dir = mkdtempSync(join(tmpdir(), "aws-profiles-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a bedrock/ deployment's AWS settings", () => {
  it("take the region from the deployment, its model ARN, or LiteLLM's variables, in that order, and call its endpoint there", () => {
    expect(awsSettings(params({ aws_region_name: "eu-central-1" }), CLAUDE, undefined, { AWS_REGION_NAME: "us-east-2" })).toMatchObject({
      region: "eu-central-1",
      endpoint: "https://bedrock-runtime.eu-central-1.amazonaws.com",
    });
    const arn = "arn:aws:bedrock:ap-south-1:123456789012:application-inference-profile/abc";
    expect(awsSettings(params(), arn, undefined, { AWS_REGION_NAME: "us-east-2" }).region).toBe("ap-south-1");
    expect(awsSettings(params(), CLAUDE, undefined, { AWS_REGION_NAME: "us-east-2", AWS_REGION: "us-east-1" }).region).toBe("us-east-2");
    expect(awsSettings(params(), CLAUDE, undefined, { AWS_REGION: "us-east-1" }).region).toBe("us-east-1");
    expect(awsSettings(params(), CLAUDE, undefined, {}).region).toBe("us-west-2");
    // api_base, then aws_bedrock_runtime_endpoint, then the variable.
    const endpoint = { AWS_BEDROCK_RUNTIME_ENDPOINT: "https://env.example" };
    expect(awsSettings(params({ aws_bedrock_runtime_endpoint: "https://vpce.example/" }), CLAUDE, undefined, endpoint).endpoint).toBe("https://vpce.example");
    expect(awsSettings(params({ api_base: "https://base.example" }), CLAUDE, undefined, endpoint).endpoint).toBe("https://base.example");
    expect(awsSettings(params(), CLAUDE, undefined, endpoint).endpoint).toBe("https://env.example");
  });

  it("sign with the deployment's keys, else the environment's unless a Bedrock API key is there", () => {
    const env = { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret", AWS_SESSION_TOKEN: "env-token" };
    expect(awsSettings(params({ aws_access_key_id: "AKIDOWN", aws_secret_access_key: "own-secret" }), CLAUDE, undefined, env).credentials).toEqual({
      accessKeyId: "AKIDOWN",
      secretAccessKey: "own-secret",
      sessionToken: undefined,
    });
    expect(awsSettings(params(), CLAUDE, undefined, env).credentials).toEqual({ accessKeyId: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token" });
    expect(awsSettings(params(), CLAUDE, "bedrock-api-key", env).credentials).toBeUndefined();
  });

  it("assume a role with the keys, a web identity token, or EKS's service account variables, through STS in the region", () => {
    const roleArn = "arn:aws:iam::123456789012:role/bedrock";
    const keys = { aws_access_key_id: "AKID", aws_secret_access_key: "s", aws_role_name: roleArn, aws_region_name: "eu-west-1" };
    expect(awsSettings(params(keys), CLAUDE, undefined, {})).toMatchObject({
      credentials: undefined,
      role: {
        roleArn,
        sessionName: "llm-gateway",
        stsEndpoint: "https://sts.eu-west-1.amazonaws.com",
        grant: { credentials: { accessKeyId: "AKID", secretAccessKey: "s" } },
      },
      problem: undefined,
    });
    const web = { aws_role_name: roleArn, aws_web_identity_token: "oidc-token", aws_session_name: "mine", aws_sts_endpoint: "https://sts.example" };
    expect(awsSettings(params(web), CLAUDE, undefined, {}).role).toMatchObject({ sessionName: "mine", stsEndpoint: "https://sts.example", grant: { webIdentityToken: "oidc-token" } });
    // What EKS sets in a pod whose service account has a role.
    const irsa = { AWS_ROLE_ARN: roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", AWS_REGION: "us-east-2" };
    expect(awsSettings(params(), CLAUDE, undefined, irsa).role).toMatchObject({
      roleArn,
      stsEndpoint: "https://sts.us-east-2.amazonaws.com",
      grant: { webIdentityTokenFile: irsa.AWS_WEB_IDENTITY_TOKEN_FILE },
    });
    // Keys in the environment come first, as in AWS's SDKs; a Bedrock API key before either.
    expect(awsSettings(params(), CLAUDE, undefined, { ...irsa, AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "e" })).toMatchObject({ role: undefined, credentials: { accessKeyId: "AKIDENV" } });
    expect(awsSettings(params(), CLAUDE, "bedrock-api-key", irsa)).toMatchObject({ role: undefined, credentials: undefined, problem: undefined });
  });

  it("read a profile of the AWS shared files: its keys, the role it assumes, its region; the credentials file wins over the config file", () => {
    const files = { AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"), AWS_CONFIG_FILE: join(dir, "config") };
    writeFileSync(
      files.AWS_SHARED_CREDENTIALS_FILE,
      `[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=dev-secret\naws_session_token = dev-token\n# a comment\n`,
    );
    writeFileSync(
      files.AWS_CONFIG_FILE,
      `[default]\nregion = eu-west-3\n[profile dev]\nregion = ap-northeast-1\naws_access_key_id = AKIDSHADOWED\ns3 =\n  max_concurrent_requests = 20\n` +
        `[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/bedrock\nsource_profile = dev\nexternal_id = ext-1\nrole_session_name = ops-session\n` +
        `[profile pod]\nrole_arn = arn:aws:iam::123456789012:role/pod\nweb_identity_token_file = /var/run/token\n` +
        `[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = ops\n` +
        `[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n`,
    );
    expect(awsSettings(params({ aws_profile_name: "dev" }), CLAUDE, undefined, { ...files, AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "e" })).toMatchObject({
      credentials: { accessKeyId: "AKIDDEV", secretAccessKey: "dev-secret", sessionToken: "dev-token" },
      region: "ap-northeast-1",
      problem: undefined,
    });
    // The environment's region comes before the profile's, as in AWS's SDKs.
    expect(awsSettings(params({ aws_profile_name: "dev" }), CLAUDE, undefined, { ...files, AWS_REGION: "us-east-1" }).region).toBe("us-east-1");
    expect(awsSettings(params({ aws_profile_name: "ops" }), CLAUDE, undefined, files)).toMatchObject({
      credentials: undefined,
      role: { roleArn: "arn:aws:iam::123456789012:role/bedrock", externalId: "ext-1", sessionName: "ops-session", grant: { credentials: { accessKeyId: "AKIDDEV" } } },
      problem: undefined,
    });
    expect(awsSettings(params({ aws_profile_name: "pod" }), CLAUDE, undefined, files).role).toMatchObject({ grant: { webIdentityTokenFile: "/var/run/token" } });
    // With nothing else, AWS_PROFILE's profile, else the default one.
    expect(awsSettings(params(), CLAUDE, undefined, { ...files, AWS_PROFILE: "dev" }).credentials?.accessKeyId).toBe("AKIDDEV");
    expect(awsSettings(params(), CLAUDE, undefined, files)).toMatchObject({ credentials: { accessKeyId: "AKIDDEFAULT" }, region: "eu-west-3", problem: undefined });
    expect(awsSettings(params(), CLAUDE, undefined, { ...files, AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "e" }).credentials?.accessKeyId).toBe("AKIDENV");
    expect(awsSettings(params(), CLAUDE, "bedrock-api-key", files)).toMatchObject({ credentials: undefined, role: undefined, problem: undefined });
    // A profile's keys assume the deployment's own role.
    expect(awsSettings(params({ aws_role_name: "arn:aws:iam::1:role/r" }), CLAUDE, undefined, files).role).toMatchObject({ roleArn: "arn:aws:iam::1:role/r", grant: { credentials: { accessKeyId: "AKIDDEFAULT" } } });
    expect(awsSettings(params({ aws_profile_name: "chained" }), CLAUDE, undefined, files).problem).toBe(
      'AWS profile "chained" assumes arn:aws:iam::123456789012:role/second with source_profile "ops", which has no keys of its own (a chain of roles is not read)',
    );
    expect(awsSettings(params({ aws_profile_name: "sso" }), CLAUDE, undefined, files).problem).toBe('AWS profile "sso" uses sso_session, which the gateway does not read');
    expect(awsSettings(params({ aws_profile_name: "dev", aws_access_key_id: "AKID", aws_secret_access_key: "s" }), CLAUDE, undefined, files).problem).toMatch(/not both/);
  });

  it("are refused at config load when they cannot be used", () => {
    const variables = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"];
    const saved = variables.map((name) => [name, process.env[name]] as const);
    for (const name of variables) delete process.env[name];
    // No shared files: a default profile on this machine would otherwise answer.
    process.env["AWS_SHARED_CREDENTIALS_FILE"] = join(dir, "absent-credentials");
    process.env["AWS_CONFIG_FILE"] = join(dir, "absent-config");
    try {
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_access_key_id: AKID, aws_secret_access_key: s")).toBeUndefined();
      expect(loadRefusal(`bedrock/${CLAUDE}`, "api_key: bedrock-api-key")).toBeUndefined();
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_access_key_id: AKID, aws_secret_access_key: s, aws_role_name: arn:aws:iam::1:role/r")).toBeUndefined();
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_role_name: arn:aws:iam::1:role/r")).toMatch(/aws_role_name needs keys to assume it with/);
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_profile_name: dev")).toMatch(/AWS profile "dev" is in neither .*absent-credentials nor .*absent-config/);
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_access_key_id: AKID")).toMatch(/go together/);
      expect(loadRefusal(`bedrock/${CLAUDE}`, "api_key: k, aws_access_key_id: AKID, aws_secret_access_key: s")).toMatch(/not both/);
      expect(loadRefusal(`bedrock/${CLAUDE}`, "aws_region_name: us-east-1")).toMatch(/no AWS credentials/);
    } finally {
      for (const [name, value] of saved) if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("price Claude on Bedrock by Anthropic's names and leave Bedrock's other models to model_info", () => {
    expect(listedModel("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0")).toBe("claude-sonnet-4-20250514-v1:0");
    expect(listedModel("bedrock", `converse/${CLAUDE}`)).toBe("claude-3-5-haiku-20241022-v1:0");
    expect(listedModel("bedrock", "meta.llama3-70b-instruct-v1:0")).toBe("");
    expect(listedModel("anthropic", "claude-3-5-haiku-latest")).toBe("claude-3-5-haiku-latest");
    const config = parseConfig(`model_list:
  - { model_name: c, litellm_params: { model: "bedrock/${CLAUDE}" } }
  - { model_name: l, litellm_params: { model: "bedrock/meta.llama3-70b-instruct-v1:0" } }
`);
    expect(unpricedModels(config.model_list)).toEqual(["l (bedrock/meta.llama3-70b-instruct-v1:0)"]);
  });
});
