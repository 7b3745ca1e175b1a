import type { ObjectKind } from "./object-ids.js";

// OpenAI's Files and Batch API routes, as the edge serves them (with or
// without /v1) and the router runs them: which call a method and path make,
// and the id the path names.

export type FilesOperation =
  | "upload"
  | "list_files"
  | "retrieve_file"
  | "file_content"
  | "delete_file"
  | "create_batch"
  | "list_batches"
  | "retrieve_batch"
  | "cancel_batch";

export interface FilesCall {
  operation: FilesOperation;
  /** The gateway's id the path names (undefined for uploads, lists and new batches), and of what. */
  id?: { kind: ObjectKind; value: string };
}

const ROUTES: readonly { method: string; path: RegExp; operation: FilesOperation; kind?: ObjectKind }[] = [
  { method: "POST", path: /^\/files$/, operation: "upload" },
  { method: "GET", path: /^\/files$/, operation: "list_files" },
  { method: "GET", path: /^\/files\/([^/]+)$/, operation: "retrieve_file", kind: "file" },
  { method: "GET", path: /^\/files\/([^/]+)\/content$/, operation: "file_content", kind: "file" },
  { method: "DELETE", path: /^\/files\/([^/]+)$/, operation: "delete_file", kind: "file" },
  { method: "POST", path: /^\/batches$/, operation: "create_batch" },
  { method: "GET", path: /^\/batches$/, operation: "list_batches" },
  { method: "GET", path: /^\/batches\/([^/]+)$/, operation: "retrieve_batch", kind: "batch" },
  { method: "POST", path: /^\/batches\/([^/]+)\/cancel$/, operation: "cancel_batch", kind: "batch" },
];

/** The call a request makes, by its method and path (the query left out); undefined for any other. */
export function filesCall(method: string, path: string): FilesCall | undefined {
  const plain = path.startsWith("/v1/") ? path.slice(3) : path;
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.path.exec(plain);
    if (!match) continue;
    return route.kind ? { operation: route.operation, id: { kind: route.kind, value: match[1]! } } : { operation: route.operation };
  }
  return undefined;
}

/** The usage event's call type, as LiteLLM names each. */
export const FILES_CALL_NAMES: Readonly<Record<FilesOperation, string>> = {
  upload: "acreate_file",
  list_files: "afile_list",
  retrieve_file: "afile_retrieve",
  file_content: "afile_content",
  delete_file: "afile_delete",
  create_batch: "acreate_batch",
  list_batches: "alist_batches",
  retrieve_batch: "aretrieve_batch",
  cancel_batch: "acancel_batch",
};
