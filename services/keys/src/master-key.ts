import { hashKey, sameKeyHash } from "@gateway/common";
import { keyName } from "./key-token.js";

/** The master key, held only as its hash and compared in constant time. */
export class MasterKey {
  readonly hash: string;
  /** Its preview, as /key/info shows it. */
  readonly name: string;

  constructor(key: string) {
    this.hash = hashKey(key);
    this.name = keyName(key);
  }

  matchesHash(presentedHash: string): boolean {
    return sameKeyHash(presentedHash, this.hash);
  }
}
