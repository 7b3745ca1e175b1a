import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { redactInLogs } from "@gateway/common";

// Google's credential files, as `gcloud` and the Cloud console write them: a
// service account's key, or a user's refresh token (application default
// credentials). Field names are from Google's public documentation.

const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

/** A service account's key: access tokens come for a JWT signed with it. */
export interface ServiceAccount {
  type: "service_account";
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | undefined;
  tokenUri: string;
  projectId: string | undefined;
}

/** A user's refresh token (`gcloud auth application-default login`). */
export interface AuthorizedUser {
  type: "authorized_user";
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  tokenUri: string;
  projectId: string | undefined;
}

/** The workload's own service account, whose tokens the metadata server hands out (GCE, GKE's workload identity). */
export interface MetadataServer {
  type: "metadata_server";
  /** The metadata server's host (and port): GCE_METADATA_HOST, as Google's libraries name it. */
  host: string;
  projectId: undefined;
}

export type GoogleCredentials = ServiceAccount | AuthorizedUser | MetadataServer;

function field(json: Record<string, unknown>, name: string): string | undefined {
  const value = json[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Credentials from a credential file's JSON text, or the path of one
 * (LiteLLM's vertex_credentials takes either). Throws an Error saying what
 * is wrong; its secrets are kept out of logs from here on.
 */
export function readGoogleCredentials(source: string): GoogleCredentials {
  let text = source;
  if (!source.trimStart().startsWith("{")) {
    try {
      text = readFileSync(source, "utf8");
    } catch (err) {
      throw new Error(`cannot read the credentials file ${source} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("the credentials are not JSON");
  }
  if (json === null || typeof json !== "object") throw new Error("the credentials are not a JSON object");
  const c = json as Record<string, unknown>;
  const tokenUri = field(c, "token_uri") ?? DEFAULT_TOKEN_URI;
  if (c["type"] === "service_account") {
    const clientEmail = field(c, "client_email");
    const privateKey = field(c, "private_key");
    if (clientEmail === undefined || privateKey === undefined) throw new Error("a service account's credentials need client_email and private_key");
    redactInLogs([privateKey]);
    try {
      createPrivateKey(privateKey);
    } catch {
      throw new Error("the service account's private_key is not a private key in PEM form");
    }
    return { type: "service_account", clientEmail, privateKey, privateKeyId: field(c, "private_key_id"), tokenUri, projectId: field(c, "project_id") };
  }
  if (c["type"] === "authorized_user") {
    const clientId = field(c, "client_id");
    const clientSecret = field(c, "client_secret");
    const refreshToken = field(c, "refresh_token");
    if (clientId === undefined || clientSecret === undefined || refreshToken === undefined) {
      throw new Error("a user's credentials need client_id, client_secret and refresh_token");
    }
    redactInLogs([clientSecret, refreshToken]);
    return { type: "authorized_user", clientId, clientSecret, refreshToken, tokenUri, projectId: field(c, "quota_project_id") };
  }
  throw new Error(`credentials of type ${String(c["type"])} are not supported (service_account and authorized_user are)`);
}
