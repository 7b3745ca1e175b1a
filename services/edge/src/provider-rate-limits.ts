// A provider's rate limits as a client sees them: each of its rate-limit
// headers passed on as LiteLLM passes provider headers on
// (`llm_provider-<name>`), and in OpenAI's x-ratelimit-* names for the
// limits the key does not set itself (the key's own come first).

const ANTHROPIC = /^anthropic-ratelimit-(requests|tokens)-(limit|remaining|reset)$/;

/** Anthropic's reset time (RFC 3339) as OpenAI's reset duration ("12s"); as it is when it is not a time. */
function resetIn(value: string, now: number): string {
  const at = Date.parse(value);
  return Number.isNaN(at) ? value : `${Math.max(0, Math.ceil((at - now) / 1000))}s`;
}

/** Adds the provider's rate-limit headers to `headers`, which hold the key's own rate-limit headers already. */
export function addProviderRateLimits(provider: Readonly<Record<string, string>>, headers: Record<string, string>): void {
  for (const name in provider) {
    const value = provider[name]!;
    headers[`llm_provider-${name}`] = value;
    if (name.startsWith("x-ratelimit-")) headers[name] ??= value;
    else {
      const match = ANTHROPIC.exec(name);
      if (match) headers[`x-ratelimit-${match[2]}-${match[1]}`] ??= match[2] === "reset" ? resetIn(value, Date.now()) : value;
    }
  }
}
