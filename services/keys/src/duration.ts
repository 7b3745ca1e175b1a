import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** LiteLLM's durations: "30s", "30m", "30h", "30d". */
export function parseDuration(value: string, field: string): number {
  const match = /^(\d+)([smhd])$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] as string] as number) : 0;
  if (ms <= 0) {
    throw gatewayError(`${field} must look like "30s", "30m", "30h" or "30d", got "${value}"`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: field,
    });
  }
  return ms;
}
