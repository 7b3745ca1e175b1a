import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@gateway/common";
import { afterAll, describe, expect, it } from "vitest";
import { vertexSettings } from "../src/config/vertex-settings.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { adapterFor, SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { ANTHROPIC_CHAT_PARAMS } from "../src/translate/anthropic-request.js";
import { GEMINI_CHAT_PARAMS } from "../src/translate/gemini-request.js";
import { loadRefusal } from "./support/load-refusal.js";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const serviceAccount = {
  type: "service_account",
  project_id: "file-project",
  private_key_id: "kid-1",
  private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  client_email: "gateway@file-project.iam.gserviceaccount.com",
  token_uri: "https://oauth2.example/token",
};
const dir = mkdtempSync(join(tmpdir(), "vertex-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, "key.json");
writeFileSync(keyFile, JSON.stringify(serviceAccount));

const params = (p: Record<string, string> = {}) => ({ model: "vertex_ai/gemini-2.5-flash", ...p });

describe("a vertex_ai/ deployment's settings", () => {
  it("read a service account's key file, or its JSON, and take the project from it unless one is named", () => {
    const fromFile = vertexSettings(params({ vertex_credentials: keyFile }), {});
    expect(fromFile).toMatchObject({
      publishers: "https://us-central1-aiplatform.googleapis.com/v1/projects/file-project/locations/us-central1/publishers",
      credentials: { type: "service_account", clientEmail: serviceAccount.client_email, privateKeyId: "kid-1", tokenUri: "https://oauth2.example/token" },
      problem: undefined,
    });
    const inline = vertexSettings(params({ vertex_credentials: JSON.stringify(serviceAccount), vertex_project: "mine", vertex_location: "europe-west4" }), {});
    expect(inline.publishers).toBe("https://europe-west4-aiplatform.googleapis.com/v1/projects/mine/locations/europe-west4/publishers");
    // LiteLLM's other spelling of the two.
    const spelled = vertexSettings(params({ vertex_credentials: keyFile, vertex_ai_project: "other", vertex_ai_location: "asia-east1" }), {});
    expect(spelled.publishers).toBe("https://asia-east1-aiplatform.googleapis.com/v1/projects/other/locations/asia-east1/publishers");
    // The environment's names, after the deployment's own; "global" has an address without a region.
    const env = { GOOGLE_APPLICATION_CREDENTIALS: keyFile, VERTEXAI_PROJECT: "env-project", VERTEX_LOCATION: "global" };
    expect(vertexSettings(params(), env).publishers).toBe("https://aiplatform.googleapis.com/v1/projects/env-project/locations/global/publishers");
    expect(vertexSettings(params({ api_base: "http://127.0.0.1:9/" }), env).publishers).toBe("http://127.0.0.1:9/v1/projects/env-project/locations/global/publishers");
  });

  it("read a user's refresh token too, with its quota project, from where gcloud writes it when nothing else is named", () => {
    const user = { type: "authorized_user", client_id: "cid", client_secret: "csecret", refresh_token: "rtoken", quota_project_id: "quota" };
    expect(vertexSettings(params({ vertex_credentials: JSON.stringify(user) }), {})).toMatchObject({
      credentials: { type: "authorized_user", clientId: "cid", refreshToken: "rtoken", tokenUri: "https://oauth2.googleapis.com/token" },
      publishers: expect.stringContaining("/projects/quota/"),
    });
    // `gcloud auth application-default login` writes ~/.config/gcloud/application_default_credentials.json.
    const gcloud = join(dir, "home", ".config", "gcloud");
    mkdirSync(gcloud, { recursive: true });
    writeFileSync(join(gcloud, "application_default_credentials.json"), JSON.stringify(user));
    expect(vertexSettings(params(), { HOME: join(dir, "home") })).toMatchObject({ credentials: { type: "authorized_user", refreshToken: "rtoken" }, problem: undefined });
    expect(vertexSettings(params(), { CLOUDSDK_CONFIG: gcloud, HOME: "/nowhere" }).credentials).toMatchObject({ clientId: "cid" });
    expect(vertexSettings(params(), { HOME: "/nowhere" }).problem).toMatch(/no Google credentials/);
  });

  it("take the workload's own service account from the metadata server when GCE_METADATA_HOST names it and nothing else is there", () => {
    const env = { GCE_METADATA_HOST: "metadata.google.internal", VERTEXAI_PROJECT: "gke-project", HOME: "/nowhere" };
    expect(vertexSettings(params(), env)).toMatchObject({
      credentials: { type: "metadata_server", host: "metadata.google.internal" },
      publishers: expect.stringContaining("/projects/gke-project/"),
      problem: undefined,
    });
    // A key file named wins; without a project the metadata server's token has nowhere to go.
    expect(vertexSettings(params({ vertex_credentials: keyFile }), env).credentials).toMatchObject({ type: "service_account" });
    expect(vertexSettings(params(), { GCE_METADATA_HOST: "metadata.google.internal", HOME: "/nowhere" }).problem).toMatch(/no project/);
  });

  it("are refused at config load when they cannot be used, naming what is missing", () => {
    // Nothing named, and no gcloud file where gcloud's config directory is said to be.
    const saved = { credentials: process.env["GOOGLE_APPLICATION_CREDENTIALS"], gcloud: process.env["CLOUDSDK_CONFIG"] };
    delete process.env["GOOGLE_APPLICATION_CREDENTIALS"];
    process.env["CLOUDSDK_CONFIG"] = join(dir, "no-gcloud");
    try {
      expect(loadRefusal("vertex_ai/gemini-2.5-flash", "vertex_project: p")).toMatch(/no Google credentials/);
    } finally {
      if (saved.credentials !== undefined) process.env["GOOGLE_APPLICATION_CREDENTIALS"] = saved.credentials;
      if (saved.gcloud === undefined) delete process.env["CLOUDSDK_CONFIG"];
      else process.env["CLOUDSDK_CONFIG"] = saved.gcloud;
    }
    expect(loadRefusal("vertex_ai/gemini-2.5-flash", `vertex_credentials: ${join(dir, "missing.json")}`)).toMatch(/cannot read the credentials file .*ENOENT/);
    expect(loadRefusal("vertex_ai/gemini-2.5-flash", `vertex_credentials: '{"type": "external_account"}'`)).toMatch(/external_account are not supported/);
    const badKey = { ...serviceAccount, private_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n" };
    expect(loadRefusal("vertex_ai/gemini-2.5-flash", `vertex_credentials: '${JSON.stringify(badKey)}'`)).toMatch(/private_key is not a private key/);
    const noProject = { ...serviceAccount, project_id: undefined };
    expect(loadRefusal("vertex_ai/gemini-2.5-flash", `vertex_credentials: '${JSON.stringify(noProject)}'`)).toMatch(/no project/);
    expect(loadRefusal("vertex_ai/meta/llama-3.1-405b-instruct-maas", `vertex_credentials: ${keyFile}`)).toMatch(/gemini-\*, claude-\* and text embedding models/);
    expect(loadRefusal("vertex_ai/claude-sonnet-4@20250514", `vertex_credentials: ${keyFile}`)).toBeUndefined();
  });

  it("pick the Messages API for Claude models and the Gemini API for the rest", () => {
    const groups = ModelGroups.fromConfig(
      parseConfig(`model_list:
  - { model_name: c, litellm_params: { model: "vertex_ai/claude-sonnet-4@20250514", vertex_credentials: ${keyFile} } }
  - { model_name: g, litellm_params: { model: "vertex_ai/gemini-2.5-flash", vertex_credentials: ${keyFile} } }
`),
      SUPPORTED_PROVIDERS,
    );
    const claude = adapterFor(groups.get("c")![0]!);
    const gemini = adapterFor(groups.get("g")![0]!);
    expect(claude.messages).toBeDefined();
    expect(claude.chatParams).toBe(ANTHROPIC_CHAT_PARAMS);
    expect(gemini.chatParams).toBe(GEMINI_CHAT_PARAMS);
    expect(gemini.messages).toBeUndefined();
    expect(claude.embeddings).toBeUndefined();
  });
});
