import { timingSafeEqual } from "node:crypto";
import { hashKey } from "@gateway/common";
import { keyName } from "./key-token.js";

/** The master key, held only as its hash and compared in constant time. */
export class MasterKey {
  readonly hash: string;
  /** Its preview, as /key/info shows it. */
  readonly name: string;
  private readonly digest: Buffer;

  constructor(key: string) {
    this.hash = hashKey(key);
    this.name = keyName(key);
    this.digest = Buffer.from(this.hash, "hex");
  }

  /** Compares hashes of equal length, so the time taken says nothing about the key. */
  matchesHash(presentedHash: string): boolean {
    return presentedHash.length === this.hash.length && timingSafeEqual(Buffer.from(presentedHash, "hex"), this.digest);
  }
}
