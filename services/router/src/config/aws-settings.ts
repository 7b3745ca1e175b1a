import { redactInLogs, type ModelEntry } from "@gateway/common";
import type { AwsCredentials } from "../providers/aws/sigv4.js";

/** Where and as whom a bedrock/ deployment calls Bedrock Runtime. */
export interface AwsSettings {
  region: string;
  /** Bedrock Runtime's base URL, without a trailing slash. */
  endpoint: string;
  /** Signing credentials (SigV4); unset when the deployment has a Bedrock API key (its apiKey) instead, or nothing at all. */
  credentials: AwsCredentials | undefined;
}

// LiteLLM's default when neither the deployment nor the environment names a region.
const DEFAULT_REGION = "us-west-2";

// Settings that need AWS's credential chain (STS, profiles, web identity),
// which this gateway does not run.
const UNSUPPORTED = ["aws_role_name", "aws_profile_name", "aws_web_identity_token", "aws_session_name", "aws_sts_endpoint"];

/** The region in a model ARN (arn:aws:bedrock:us-east-1:…:inference-profile/…), if the model is one. */
function arnRegion(model: string): string | undefined {
  const parts = model.split(":");
  return parts[0] === "arn" && parts.length > 4 && parts[3] ? parts[3] : undefined;
}

function credentialsOf(id: string | undefined, secret: string | undefined, token: string | undefined): AwsCredentials | undefined {
  return id && secret ? { accessKeyId: id, secretAccessKey: secret, sessionToken: token || undefined } : undefined;
}

/**
 * A bedrock/ deployment's region, endpoint and credentials, each from its
 * litellm_params or else the environment (LiteLLM's names): aws_region_name,
 * the model ARN's region, AWS_REGION_NAME, AWS_REGION, us-west-2;
 * api_base, aws_bedrock_runtime_endpoint, AWS_BEDROCK_RUNTIME_ENDPOINT,
 * bedrock-runtime.<region>.amazonaws.com; aws_access_key_id with
 * aws_secret_access_key (and aws_session_token), else AWS_ACCESS_KEY_ID with
 * AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when there is no Bedrock
 * API key (`apiKey`: api_key, else AWS_BEARER_TOKEN_BEDROCK) either.
 */
export function awsSettings(p: ModelEntry["litellm_params"], providerModel: string, apiKey: string | undefined, env: NodeJS.ProcessEnv = process.env): AwsSettings {
  const region = p.aws_region_name ?? arnRegion(providerModel) ?? (env["AWS_REGION_NAME"] || env["AWS_REGION"] || DEFAULT_REGION);
  const endpoint = p.api_base ?? p.aws_bedrock_runtime_endpoint ?? (env["AWS_BEDROCK_RUNTIME_ENDPOINT"] || `https://bedrock-runtime.${region}.amazonaws.com`);
  const own = credentialsOf(p.aws_access_key_id, p.aws_secret_access_key, p.aws_session_token);
  const fromEnv = apiKey === undefined && own === undefined ? credentialsOf(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) : undefined;
  if (fromEnv) redactInLogs([fromEnv.secretAccessKey, fromEnv.sessionToken ?? ""]);
  return { region, endpoint: endpoint.replace(/\/+$/, ""), credentials: own ?? fromEnv };
}

/** Why a bedrock/ deployment cannot be called as configured, or undefined. */
export function awsProblem(p: ModelEntry["litellm_params"], settings: AwsSettings, apiKey: string | undefined): string | undefined {
  const unsupported = UNSUPPORTED.find((name) => p[name] !== undefined);
  if (unsupported) return `litellm_params.${unsupported} is not supported; give aws_access_key_id and aws_secret_access_key (or a Bedrock API key as api_key)`;
  if ((p.aws_access_key_id === undefined) !== (p.aws_secret_access_key === undefined)) return "aws_access_key_id and aws_secret_access_key go together";
  if (p.aws_access_key_id !== undefined && p.api_key !== undefined) return "give either api_key (a Bedrock API key) or aws_access_key_id and aws_secret_access_key, not both";
  if (settings.credentials === undefined && apiKey === undefined) {
    return "no AWS credentials: set aws_access_key_id and aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or a Bedrock API key as api_key (or AWS_BEARER_TOKEN_BEDROCK)";
  }
  return undefined;
}
