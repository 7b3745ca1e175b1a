import { redactInLogs, type ModelEntry } from "@gateway/common";
import type { RoleGrant, RoleToAssume } from "../providers/aws/assumed-role.js";
import type { AwsCredentials } from "../providers/aws/sigv4.js";
import { awsProfile, sharedFiles, type AwsProfile } from "./aws-profile.js";

/** Where and as whom a bedrock/ deployment calls Bedrock Runtime. */
export interface AwsSettings {
  region: string;
  /** Bedrock Runtime's base URL, without a trailing slash. */
  endpoint: string;
  /** Long-lived signing keys (SigV4), when no role is assumed. */
  credentials: AwsCredentials | undefined;
  /** A role whose temporary credentials sign instead. */
  role: RoleToAssume | undefined;
  /** Why the deployment cannot be called as configured, found at load. */
  problem: string | undefined;
}

// LiteLLM's default when neither the deployment nor the environment names a region.
const DEFAULT_REGION = "us-west-2";
// The session name a role is assumed under, unless named.
const SESSION_NAME = "llm-gateway";

/** The region in a model ARN (arn:aws:bedrock:us-east-1:…:inference-profile/…), if the model is one. */
function arnRegion(model: string): string | undefined {
  const parts = model.split(":");
  return parts[0] === "arn" && parts.length > 4 && parts[3] ? parts[3] : undefined;
}

function credentialsOf(id: string | undefined, secret: string | undefined, token: string | undefined): AwsCredentials | undefined {
  return id && secret ? { accessKeyId: id, secretAccessKey: secret, sessionToken: token || undefined } : undefined;
}

function problemOf(p: ModelEntry["litellm_params"], settings: Omit<AwsSettings, "problem">, apiKey: string | undefined, profile: AwsProfile | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (p.aws_profile_name !== undefined) {
    if (p.aws_access_key_id !== undefined || p.api_key !== undefined) return "give aws_profile_name or keys of the deployment's own (aws_access_key_id, api_key), not both";
    if (profile === undefined) return `AWS profile "${p.aws_profile_name}" is in neither ${sharedFiles(env).join(" nor ")}`;
  }
  if (profile?.problem !== undefined) return profile.problem;
  if ((p.aws_access_key_id === undefined) !== (p.aws_secret_access_key === undefined)) return "aws_access_key_id and aws_secret_access_key go together";
  if (p.aws_access_key_id !== undefined && p.api_key !== undefined) return "give either api_key (a Bedrock API key) or aws_access_key_id and aws_secret_access_key, not both";
  if (p.aws_role_name !== undefined && settings.role === undefined) {
    return "aws_role_name needs keys to assume it with (aws_access_key_id and aws_secret_access_key, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile's) or a web identity token (aws_web_identity_token, or AWS_WEB_IDENTITY_TOKEN_FILE)";
  }
  if (settings.credentials === undefined && settings.role === undefined && apiKey === undefined) {
    return `no AWS credentials: set aws_access_key_id and aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), a profile (aws_profile_name, AWS_PROFILE, or a default profile in ${sharedFiles(env).join(" or ")}), a role (aws_role_name, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE), or a Bedrock API key as api_key (or AWS_BEARER_TOKEN_BEDROCK)`;
  }
  return undefined;
}

/**
 * A bedrock/ deployment's region, endpoint and credentials, each from its
 * litellm_params or else the environment (LiteLLM's names, and the AWS
 * SDKs' order). Region: aws_region_name, the model ARN's region,
 * AWS_REGION_NAME, AWS_REGION, the profile's, us-west-2. Endpoint: api_base,
 * aws_bedrock_runtime_endpoint, AWS_BEDROCK_RUNTIME_ENDPOINT,
 * bedrock-runtime.<region>.amazonaws.com. Who: a Bedrock API key (`apiKey`:
 * api_key, else AWS_BEARER_TOKEN_BEDROCK) signs with nothing else; else
 * aws_access_key_id with aws_secret_access_key (and aws_session_token), or
 * the profile aws_profile_name names, or AWS_ACCESS_KEY_ID with
 * AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); with aws_role_name those
 * keys, or aws_web_identity_token, assume the role; with none of these,
 * AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (EKS's service account roles)
 * is assumed, and last the shared files' profile AWS_PROFILE names, or their
 * default one. A profile gives keys or a role of its own (aws-profile.ts).
 */
export function awsSettings(p: ModelEntry["litellm_params"], providerModel: string, apiKey: string | undefined, env: NodeJS.ProcessEnv = process.env): AwsSettings {
  const own = credentialsOf(p.aws_access_key_id, p.aws_secret_access_key, p.aws_session_token);
  const explicit = apiKey !== undefined || own !== undefined;
  // A profile named in the entry replaces the environment's keys, as a profile named to an AWS SDK does.
  const fromEnv = p.api_key === undefined && own === undefined && p.aws_profile_name === undefined ? credentialsOf(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) : undefined;
  if (fromEnv) redactInLogs([fromEnv.secretAccessKey, fromEnv.sessionToken ?? ""]);
  const tokenFile = env["AWS_WEB_IDENTITY_TOKEN_FILE"];
  const webIdentity = p.aws_web_identity_token !== undefined || (tokenFile !== undefined && env["AWS_ROLE_ARN"] !== undefined);
  const profileName = p.aws_profile_name ?? (!explicit && !fromEnv && !webIdentity ? env["AWS_PROFILE"] || "default" : undefined);
  const profile = profileName === undefined ? undefined : awsProfile(profileName, env);
  const keys = own ?? (apiKey === undefined ? (fromEnv ?? profile?.keys) : undefined);
  const region = p.aws_region_name ?? arnRegion(providerModel) ?? (env["AWS_REGION_NAME"] || env["AWS_REGION"] || profile?.region || DEFAULT_REGION);
  const endpoint = (p.api_base ?? p.aws_bedrock_runtime_endpoint ?? (env["AWS_BEDROCK_RUNTIME_ENDPOINT"] || `https://bedrock-runtime.${region}.amazonaws.com`)).replace(/\/+$/, "");

  const profileRole = p.aws_role_name === undefined ? profile?.role : undefined;
  const roleArn = profileRole?.roleArn ?? p.aws_role_name ?? (!explicit && !fromEnv && tokenFile ? env["AWS_ROLE_ARN"] : undefined);
  const grant: RoleGrant | undefined =
    profileRole?.grant ??
    (p.aws_web_identity_token !== undefined ? { webIdentityToken: p.aws_web_identity_token } : keys ? { credentials: keys } : tokenFile ? { webIdentityTokenFile: tokenFile } : undefined);
  let role: RoleToAssume | undefined;
  if (roleArn !== undefined && grant !== undefined) {
    role = {
      roleArn,
      sessionName: p.aws_session_name ?? profileRole?.sessionName ?? (env["AWS_ROLE_SESSION_NAME"] || SESSION_NAME),
      externalId: p.aws_external_id ?? profileRole?.externalId,
      stsEndpoint: p.aws_sts_endpoint ?? `https://sts.${region}.amazonaws.com`,
      region,
      grant,
    };
  }
  const settings = { region, endpoint, credentials: role === undefined ? keys : undefined, role };
  return { ...settings, problem: problemOf(p, settings, apiKey, profile, env) };
}
