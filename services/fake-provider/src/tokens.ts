// Tokens a fake hands out and later checks: Google's OAuth access tokens
// (google-token.ts) and AWS STS session tokens (aws-sts.ts). Each is a prefix
// and a number counting from 1, live until its expiry.

/** The tokens one server has issued under one prefix, each until it expires. */
export interface IssuedTokens {
  /** How many have been issued. */
  readonly issued: number;
  /** Issues the next token, live for `lifetimeSeconds` from now. */
  issue(lifetimeSeconds: number): string;
  /** Whether `token` was issued here and has not expired. */
  isLive(token: string): boolean;
  /** Whether `token` was issued here, live or expired (to tell an expired token from a made-up one). */
  wasIssued(token: string): boolean;
}

/** An empty IssuedTokens whose tokens are `prefix` followed by their number. */
export function createIssuedTokens(prefix: string): IssuedTokens {
  const expiries = new Map<string, number>();
  let issued = 0;
  return {
    get issued() {
      return issued;
    },
    issue(lifetimeSeconds) {
      const now = Date.now();
      // Expired tokens are forgotten, so a server left running does not grow.
      for (const [token, expiry] of expiries) if (expiry <= now) expiries.delete(token);
      issued += 1;
      const token = `${prefix}${issued}`;
      expiries.set(token, now + lifetimeSeconds * 1000);
      return token;
    },
    isLive(token) {
      const expiry = expiries.get(token);
      return expiry !== undefined && Date.now() < expiry;
    },
    wasIssued(token) {
      // The numbers tell, as forgotten tokens are no longer in the map.
      const number = token.startsWith(prefix) ? token.slice(prefix.length) : "";
      return /^[1-9]\d*$/.test(number) && Number(number) <= issued;
    },
  };
}
