import { describe, expect, it } from "vitest";
import { formFields } from "../src/form-body.js";

// A multipart/form-data upload as the routes read it (transcriptions, image edits, files).

const BOUNDARY = "gw-test-boundary";
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** A form of `fields` (name, text) and a file named file. */
function form(fields: [string, string][]): Buffer {
  const parts = fields.map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  parts.push(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--${BOUNDARY}--\r\n`);
  return Buffer.from(parts.join(""));
}

const many = (count: number): [string, string][] => Array.from({ length: count }, (_, i) => [`f${i}`, "v"]);

describe("a multipart/form-data upload", () => {
  it("reads each field's text, a repeated name's list, and the file", async () => {
    const fields = await formFields(form([["model", "whisper-1"], ["timestamp_granularities[]", "word"], ["timestamp_granularities[]", "segment"], ["__proto__", "x"]]), CONTENT_TYPE);
    expect(fields["model"]).toBe("whisper-1");
    expect(fields["timestamp_granularities[]"]).toEqual(["word", "segment"]);
    expect(fields["file"]).toBeInstanceOf(File);
    // A field of any name is a field, not the record's prototype.
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(Object.hasOwn(fields, "__proto__")).toBe(true);
  });

  it("has at most 1000 parts, as LiteLLM's (Starlette's) forms: the parse of each held the event loop, and for every name again", async () => {
    expect(Object.keys(await formFields(form(many(999)), CONTENT_TYPE))).toHaveLength(1000);
    await expect(formFields(form(many(1000)), CONTENT_TYPE)).rejects.toThrow(/a multipart\/form-data upload may have at most 1000 parts/);
    await expect(formFields(form(many(1000)), `multipart/form-data; boundary="${BOUNDARY}"`)).rejects.toThrow(/at most 1000 parts/);
  });

  it("is a 400 when it does not parse", async () => {
    await expect(formFields(Buffer.from("not a form"), CONTENT_TYPE)).rejects.toThrow(/not a valid multipart\/form-data upload/);
  });
});
