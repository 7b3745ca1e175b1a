import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ModelEntry } from "@gateway/common";
import { readGoogleCredentials, type GoogleCredentials } from "../providers/google/credentials.js";

/** Where and as whom a vertex_ai/ deployment calls Vertex AI; `problem` says why it cannot, when it cannot. */
export interface VertexSettings {
  /** The models' address up to the publisher: <base>/v1/projects/<project>/locations/<location>/publishers. */
  publishers: string;
  credentials: GoogleCredentials | undefined;
  problem: string | undefined;
}

// LiteLLM's default when neither the deployment nor the environment names a location.
const DEFAULT_LOCATION = "us-central1";

function firstSet(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const name of names) if (env[name]) return env[name];
  return undefined;
}

/** The file `gcloud auth application-default login` writes, if it is there (gcloud's config directory: CLOUDSDK_CONFIG, else ~/.config/gcloud). */
function gcloudCredentials(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env["CLOUDSDK_CONFIG"] || (env["HOME"] ? join(env["HOME"], ".config", "gcloud") : undefined);
  const path = dir === undefined ? undefined : join(dir, "application_default_credentials.json");
  return path !== undefined && existsSync(path) ? path : undefined;
}

/**
 * A vertex_ai/ deployment's settings, each from its litellm_params or else
 * the environment (LiteLLM's names): vertex_credentials (a key file's path
 * or its JSON), GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default
 * credentials file, the metadata server at GCE_METADATA_HOST (named, not
 * probed: a config without credentials is refused at load); vertex_project
 * (or vertex_ai_project), VERTEXAI_PROJECT, VERTEX_PROJECT, the credentials'
 * project; vertex_location (or vertex_ai_location), VERTEXAI_LOCATION,
 * VERTEX_LOCATION, us-central1; api_base, else
 * <location>-aiplatform.googleapis.com (aiplatform.googleapis.com for "global").
 */
export function vertexSettings(p: ModelEntry["litellm_params"], env: NodeJS.ProcessEnv = process.env): VertexSettings {
  const location = p.vertex_location ?? p.vertex_ai_location ?? firstSet(env, "VERTEXAI_LOCATION", "VERTEX_LOCATION") ?? DEFAULT_LOCATION;
  const base = (p.api_base ?? (location === "global" ? "https://aiplatform.googleapis.com" : `https://${location}-aiplatform.googleapis.com`)).replace(/\/+$/, "");
  const source = p.vertex_credentials ?? firstSet(env, "GOOGLE_APPLICATION_CREDENTIALS") ?? gcloudCredentials(env);
  const metadataHost = firstSet(env, "GCE_METADATA_HOST");
  let credentials: GoogleCredentials | undefined;
  let problem: string | undefined;
  if (source === undefined && metadataHost !== undefined) {
    credentials = { type: "metadata_server", host: metadataHost, projectId: undefined };
  } else if (source === undefined) {
    problem =
      "no Google credentials: set vertex_credentials (a service account key file, or its JSON) or GOOGLE_APPLICATION_CREDENTIALS, run gcloud auth application-default login, or, on GCE or GKE, set GCE_METADATA_HOST=metadata.google.internal";
  } else {
    try {
      credentials = readGoogleCredentials(source);
    } catch (err) {
      problem = `vertex_credentials: ${(err as Error).message}`;
    }
  }
  const project = p.vertex_project ?? p.vertex_ai_project ?? firstSet(env, "VERTEXAI_PROJECT", "VERTEX_PROJECT") ?? credentials?.projectId;
  if (project === undefined && problem === undefined) problem = "no project: set vertex_project or VERTEXAI_PROJECT";
  return { publishers: `${base}/v1/projects/${project ?? ""}/locations/${location}/publishers`, credentials, problem };
}
