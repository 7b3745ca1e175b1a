import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { redactInLogs } from "@gateway/common";
import type { RoleGrant } from "../providers/aws/assumed-role.js";
import type { AwsCredentials } from "../providers/aws/sigv4.js";

// Profiles of the AWS shared files, as the AWS CLI and SDKs write them: the
// credentials file's [name] sections and the config file's [profile name]
// (and [default]) sections, the credentials file winning for a setting both
// give. Read once, at config load: a change to the files takes a reload.

/** A role a profile assumes (role_arn), and with what. */
export interface ProfileRole {
  roleArn: string;
  externalId: string | undefined;
  sessionName: string | undefined;
  grant: RoleGrant;
}

/** What a profile gives a bedrock/ deployment. */
export interface AwsProfile {
  keys: AwsCredentials | undefined;
  role: ProfileRole | undefined;
  region: string | undefined;
  problem: string | undefined;
}

type Section = ReadonlyMap<string, string>;

const credentialsFile = (env: NodeJS.ProcessEnv) => env["AWS_SHARED_CREDENTIALS_FILE"] || join(homedir(), ".aws", "credentials");
const configFile = (env: NodeJS.ProcessEnv) => env["AWS_CONFIG_FILE"] || join(homedir(), ".aws", "config");

/** Where the shared files are looked for (the credentials file, the config file), for messages. */
export const sharedFiles = (env: NodeJS.ProcessEnv): [string, string] => [credentialsFile(env), configFile(env)];

/** An INI file's sections by name (none when the file does not exist); nested settings (indented lines) are skipped. */
function sectionsOf(path: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return sections;
    throw err;
  }
  let current: Map<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s/.test(line) || /^[#;]/.test(line) || line.trim() === "") continue;
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      current = sections.get(header[1]!) ?? new Map<string, string>();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current && eq > 0) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

/** The settings of profile `name` from both files; undefined when neither has it. */
function profileSection(name: string, env: NodeJS.ProcessEnv): Section | undefined {
  const fromConfig = sectionsOf(configFile(env)).get(name === "default" ? "default" : `profile ${name}`);
  const fromCredentials = sectionsOf(credentialsFile(env)).get(name);
  if (!fromConfig && !fromCredentials) return undefined;
  return new Map([...(fromConfig ?? []), ...(fromCredentials ?? [])]);
}

function keysOf(section: Section): AwsCredentials | undefined {
  const id = section.get("aws_access_key_id");
  const secret = section.get("aws_secret_access_key");
  if (!id || !secret) return undefined;
  const sessionToken = section.get("aws_session_token") || undefined;
  redactInLogs([secret, sessionToken ?? ""]);
  return { accessKeyId: id, secretAccessKey: secret, sessionToken };
}

const NOT_READ = ["sso_session", "sso_start_url", "credential_process", "credential_source"];

/**
 * Profile `name` of the AWS shared files: its keys, or the role it assumes
 * (role_arn with source_profile's keys or web_identity_token_file), and its
 * region; undefined when neither file has it. SSO, credential_process,
 * credential_source and a source_profile that assumes a role itself are not
 * read: the profile then comes with a problem saying so.
 */
export function awsProfile(name: string, env: NodeJS.ProcessEnv): AwsProfile | undefined {
  let section: Section | undefined;
  try {
    section = profileSection(name, env);
  } catch (err) {
    return { keys: undefined, role: undefined, region: undefined, problem: `cannot read the AWS shared files for profile "${name}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (!section) return undefined;
  const region = section.get("region") || undefined;
  const unsupported = NOT_READ.find((setting) => section.has(setting));
  const roleArn = section.get("role_arn");
  if (roleArn === undefined) {
    const keys = keysOf(section);
    const problem = keys ? undefined : unsupported ? `AWS profile "${name}" uses ${unsupported}, which the gateway does not read` : `AWS profile "${name}" has no aws_access_key_id and aws_secret_access_key`;
    return { keys, role: undefined, region, problem };
  }
  const role = (grant: RoleGrant): AwsProfile => ({
    keys: undefined,
    role: { roleArn, externalId: section.get("external_id") || undefined, sessionName: section.get("role_session_name") || undefined, grant },
    region,
    problem: undefined,
  });
  const tokenFile = section.get("web_identity_token_file");
  if (tokenFile) return role({ webIdentityTokenFile: tokenFile });
  const source = section.get("source_profile");
  const sourceSection = source === undefined ? undefined : source === name ? section : profileSection(source, env);
  const sourceKeys = sourceSection && !(source !== name && sourceSection.has("role_arn")) ? keysOf(sourceSection) : undefined;
  if (sourceKeys) return role({ credentials: sourceKeys });
  const how =
    source !== undefined
      ? `with source_profile "${source}", which has no keys of its own (a chain of roles is not read)`
      : unsupported
        ? `with ${unsupported}, which the gateway does not read`
        : "but names no source_profile or web_identity_token_file";
  return { keys: undefined, role: undefined, region, problem: `AWS profile "${name}" assumes ${roleArn} ${how}` };
}
