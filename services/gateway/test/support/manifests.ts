import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

export const DEPLOY_DIR = fileURLToPath(new URL("../../../../deploy/", import.meta.url));

/** A Kubernetes object as kustomize renders it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Renders a kustomization with the kubectl on PATH (its built-in kustomize). */
export async function kustomize(dir: string): Promise<Manifest[]> {
  const { stdout } = await promisify(execFile)("kubectl", ["kustomize", dir], { maxBuffer: 16 * 2 ** 20 });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS() as Manifest;
  });
}

/**
 * Validates one object against the Kubernetes OpenAPI schema of its
 * apiVersion and kind (kubernetes-models); an unknown kind fails the import.
 */
export async function validateManifest(manifest: Manifest): Promise<void> {
  const module = (await import(`kubernetes-models/${manifest.apiVersion}/${manifest.kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[manifest.kind];
  if (!Model) throw new Error(`kubernetes-models has no ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest).validate();
}

/** Whether every label a selector asks for is on the pod. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
