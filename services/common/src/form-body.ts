import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

// As many parts as an upload may have: Starlette's limit, which LiteLLM's
// form routes keep (an OpenAI upload has a file and a few fields). Parsing
// costs some microseconds a part, so a body of the size limit cut into tiny
// parts held the event loop for seconds, and bodies are read before the key
// is checked.
const MAX_PARTS = 1000;

const BOUNDARY = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i;

const invalidUpload = (message: string) => gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error" });

/** Refuses a body with more than MAX_PARTS parts, counting its boundary delimiters (the last one closes the form). */
function checkPartCount(bytes: Uint8Array, contentType: string): void {
  const match = BOUNDARY.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined) return;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  let delimiters = 0;
  for (let at = buffer.indexOf(delimiter); at !== -1; at = buffer.indexOf(delimiter, at + delimiter.length)) {
    if (++delimiters > MAX_PARTS + 1) throw invalidUpload(`a multipart/form-data upload may have at most ${MAX_PARTS} parts`);
  }
}

/**
 * A multipart/form-data body as a record: each field's text, or the File
 * uploaded under it; a name sent more than once (OpenAI's
 * timestamp_granularities[]) holds the list. Throws a 400 for a body that
 * does not parse as the form its content type announces, or that has more
 * than MAX_PARTS parts.
 */
export async function formFields(bytes: Uint8Array, contentType: string): Promise<Record<string, unknown>> {
  checkPartCount(bytes, contentType);
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw invalidUpload("request body is not a valid multipart/form-data upload");
  }
  // One pass over the parts (FormData.getAll reads them all, for each name).
  const values = new Map<string, unknown[]>();
  for (const [name, value] of form) {
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return Object.fromEntries([...values].map(([name, list]) => [name, list.length === 1 ? list[0] : list]));
}
