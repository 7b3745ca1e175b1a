import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { KeySettings } from "@gateway/proto/keys/v1/keys_pb.js";
import { addDuration, parseDuration } from "../duration.js";
import type { KeyPatch } from "../key-store.js";

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

const CLEARABLE: Record<string, (patch: KeyPatch) => void> = {
  key_alias: (p) => (p.keyAlias = null),
  max_budget: (p) => (p.maxBudget = null),
  budget_duration: (p) => (p.budgetDuration = ""),
  duration: (p) => (p.expiresAt = null),
  rpm_limit: (p) => (p.rpmLimit = null),
  tpm_limit: (p) => (p.tpmLimit = null),
  max_parallel_requests: (p) => (p.maxParallelRequests = null),
};

/** The columns a KeySettings message sets, validated; absent fields are left out. */
export function settingsPatch(s: KeySettings | undefined, now = Date.now()): KeyPatch {
  if (!s) return {};
  const patch: KeyPatch = {};
  if (s.keyAlias !== undefined) patch.keyAlias = s.keyAlias === "" ? null : s.keyAlias;
  if (s.models !== undefined) patch.models = s.models.models;
  if (s.maxBudget !== undefined) {
    if (!(s.maxBudget >= 0)) throw invalid("max_budget must be a number of dollars, 0 or more", "max_budget");
    patch.maxBudget = s.maxBudget;
  }
  if (s.budgetDuration !== undefined) {
    if (s.budgetDuration !== "") parseDuration(s.budgetDuration, "budget_duration");
    patch.budgetDuration = s.budgetDuration;
  }
  if (s.duration !== undefined) patch.expiresAt = s.duration === "" ? null : new Date(addDuration(now, parseDuration(s.duration, "duration")));
  if (s.rpmLimit !== undefined) patch.rpmLimit = s.rpmLimit;
  if (s.tpmLimit !== undefined) patch.tpmLimit = s.tpmLimit;
  if (s.maxParallelRequests !== undefined) patch.maxParallelRequests = s.maxParallelRequests;
  if (s.metadataJson !== undefined) {
    let metadata: unknown;
    try {
      metadata = JSON.parse(s.metadataJson);
    } catch {
      throw invalid("metadata must be a JSON object", "metadata");
    }
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) throw invalid("metadata must be a JSON object", "metadata");
    patch.metadata = metadata;
  }
  if (s.userId !== undefined) patch.userId = s.userId;
  if (s.teamId !== undefined) patch.teamId = s.teamId;
  for (const field of s.clear) {
    const clear = CLEARABLE[field];
    if (!clear) throw invalid(`${field} cannot be cleared`, field);
    clear(patch);
  }
  return patch;
}
