import { expect, it } from "vitest";
import { keyOfAuthorization } from "../src/key-hash.js";

it("takes the key from an Authorization header: the bearer scheme in any case, or a bare key", () => {
  expect(keyOfAuthorization("Bearer sk-abc ")).toBe("sk-abc");
  expect(keyOfAuthorization("bearer sk-abc")).toBe("sk-abc");
  expect(keyOfAuthorization("BEARER sk-abc")).toBe("sk-abc");
  expect(keyOfAuthorization(" sk-abc")).toBe("sk-abc");
  expect(keyOfAuthorization("Bearer")).toBe("Bearer");
});
