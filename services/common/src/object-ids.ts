import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { GatewayConfig } from "./config.js";

// The ids of files and batches the gateway hands out (OpenAI's Files and
// Batch APIs). A provider's own id says neither which deployment holds the
// object nor whose it is, and the gateway keeps no table of them: each id it
// gives carries the model group, the deployment and the provider's id,
// sealed (AES-256-GCM) under a key derived from the gateway's secret, and a
// digest of its owner (the caller's team, else user, else key). A client
// cannot read, forge or alter one, and another team's key cannot use it.
// The same object always gets the same id (the nonce is derived from what
// is sealed), so a list and a retrieve agree.

export type ObjectKind = "file" | "batch";

/** What an id the gateway gave holds. */
export interface ObjectRef {
  /** The model group the object was made through. */
  model: string;
  /** The id of the deployment that holds it. */
  deployment: string;
  /** The provider's id of it. */
  id: string;
}

/** An id's contents: the object, and a digest of its owner. */
export interface SealedRef extends ObjectRef {
  owner: Buffer;
}

const PREFIX: Record<ObjectKind, string> = { file: "file-", batch: "batch_" };
const OWNER_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** What the gateway seals with (a runtime model's keys, file and batch ids): LITELLM_SALT_KEY, else the master key, as LiteLLM. */
export function gatewaySecret(config: GatewayConfig): string {
  return process.env["LITELLM_SALT_KEY"] ?? config.general_settings.master_key ?? "";
}

/** Whose objects a caller's are: its team's, else its user's, else its own key's. */
export function ownerOf(caller: { teamId: string; userId: string; keyHash: string }): string {
  if (caller.teamId !== "") return `team:${caller.teamId}`;
  if (caller.userId !== "") return `user:${caller.userId}`;
  return `key:${caller.keyHash}`;
}

const ownerDigest = (owner: string) => createHash("sha256").update(owner).digest().subarray(0, OWNER_BYTES);

export class ObjectIds {
  private readonly sealKey: Buffer;
  private readonly nonceKey: Buffer;

  /** `secret`: gatewaySecret's; every edge and router of a gateway must use the same. */
  constructor(secret: string) {
    const keys = Buffer.from(hkdfSync("sha256", secret, "", "gateway file and batch ids", 64));
    this.sealKey = keys.subarray(0, 32);
    this.nonceKey = keys.subarray(32);
  }

  /** The id the gateway gives `ref`, for `owner` (ownerOf). */
  mint(kind: ObjectKind, ref: ObjectRef, owner: string): string {
    const plain = Buffer.concat([ownerDigest(owner), Buffer.from(JSON.stringify([ref.model, ref.deployment, ref.id]))]);
    const nonce = createHmac("sha256", this.nonceKey).update(kind).update(plain).digest().subarray(0, NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.sealKey, nonce).setAAD(Buffer.from(kind));
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return PREFIX[kind] + sealed.toString("base64url");
  }

  /** What an id holds, whoever owns it; undefined for one the gateway did not give (or of another kind). */
  read(kind: ObjectKind, id: string): SealedRef | undefined {
    if (!id.startsWith(PREFIX[kind])) return undefined;
    const sealed = Buffer.from(id.slice(PREFIX[kind].length), "base64url");
    if (sealed.length < NONCE_BYTES + OWNER_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.sealKey, sealed.subarray(0, NONCE_BYTES)).setAAD(Buffer.from(kind));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      const [model, deployment, providerId] = JSON.parse(plain.subarray(OWNER_BYTES).toString()) as unknown[];
      if (typeof model !== "string" || typeof deployment !== "string" || typeof providerId !== "string") return undefined;
      return { model, deployment, id: providerId, owner: plain.subarray(0, OWNER_BYTES) };
    } catch {
      return undefined;
    }
  }

  /** Whether `owner` (ownerOf) is the one the id was given to. */
  static ownedBy(ref: SealedRef, owner: string): boolean {
    return timingSafeEqual(ref.owner, ownerDigest(owner));
  }
}
