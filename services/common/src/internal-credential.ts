import { createHmac, timingSafeEqual } from "node:crypto";
import { Code, type Interceptor } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";
import { hashKey, keyOfAuthorization, sameKeyHash } from "./key-hash.js";
import { redactInLogs } from "./logger.js";

/** The request header that carries the credential on the services' calls to each other. */
export const INTERNAL_CREDENTIAL_HEADER = "x-gateway-internal";

// What the master key is keyed with: a new label would be a new credential.
const LABEL = "llm-gateway internal service call v1";

type HeaderValue = string | string[] | null | undefined;

/**
 * What the split services' calls to each other carry, and what their ports
 * check: an HMAC-SHA256 of a fixed label under the master key, in hex. Every
 * service reads the master key from the same config.yaml, so each derives
 * the same value at startup and nothing new is configured; the value is not
 * the master key, so a call's headers seen somewhere (a proxy's log) do not
 * open the edge's admin routes. A port also takes a call that carries the
 * master key itself as its bearer token: an operator calling a service with
 * curl or buf.
 *
 * Everything a check needs is computed here, once: a call that carries the
 * credential costs a header lookup and a 64-byte constant-time comparison.
 */
export class InternalCredential {
  readonly #value: string;
  readonly #expected: Buffer;
  // Where a presented value is copied to be compared, so a check allocates nothing.
  readonly #presented: Buffer;
  readonly #masterKeyHash: string;

  constructor(masterKey: string) {
    this.#value = createHmac("sha256", masterKey).update(LABEL).digest("hex");
    this.#expected = Buffer.from(this.#value, "latin1");
    this.#presented = Buffer.alloc(this.#expected.length);
    this.#masterKeyHash = hashKey(masterKey);
    redactInLogs([this.#value]);
  }

  /** The header value this process's calls to the other services carry. */
  headerValue(): string {
    return this.#value;
  }

  /** A connect-node client interceptor that puts the credential on every call. */
  readonly sender: Interceptor = (next) => (req) => {
    req.header.set(INTERNAL_CREDENTIAL_HEADER, this.#value);
    return next(req);
  };

  /** connect-node's server path to the check h2-handlers.ts makes: a call the port does not take fails before its handler runs. */
  readonly gate: Interceptor = (next) => (req) => {
    this.admit(req.header.get(INTERNAL_CREDENTIAL_HEADER), req.header.get("authorization"));
    return next(req);
  };

  /**
   * Throws Unauthenticated unless the call carries the credential or the
   * master key as its bearer token. To the edge's client such a refusal is
   * the gateway's failure (services whose master keys differ), not its own:
   * hence status 500 in the error's metadata.
   */
  admit(internal: HeaderValue, authorization: HeaderValue): void {
    if (typeof internal === "string" && this.#matches(internal)) return;
    if (typeof authorization === "string" && this.#isMasterKey(keyOfAuthorization(authorization))) return;
    throw gatewayError(
      `this port serves the gateway's own services: a call needs the ${INTERNAL_CREDENTIAL_HEADER} credential (derived from the master key) or the master key as its bearer token`,
      Code.Unauthenticated,
      { type: "internal_server_error", status: 500, code: "internal_credential" },
    );
  }

  #isMasterKey(token: string): boolean {
    return token !== "" && sameKeyHash(hashKey(token), this.#masterKeyHash);
  }

  #matches(presented: string): boolean {
    if (presented.length !== this.#expected.length) return false;
    this.#presented.write(presented, "latin1");
    return timingSafeEqual(this.#presented, this.#expected);
  }
}
