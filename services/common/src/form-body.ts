import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

/**
 * A multipart/form-data body as a record: each field's text, or the File
 * uploaded under it; a name sent more than once (OpenAI's
 * timestamp_granularities[]) holds the list. Throws a 400 for a body that
 * does not parse as the form its content type announces.
 */
export async function formFields(bytes: Uint8Array, contentType: string): Promise<Record<string, unknown>> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw gatewayError("request body is not a valid multipart/form-data upload", Code.InvalidArgument, { type: "invalid_request_error" });
  }
  const fields: Record<string, unknown> = {};
  for (const name of new Set(form.keys())) {
    const values = form.getAll(name);
    fields[name] = values.length === 1 ? values[0] : values;
  }
  return fields;
}
