import { asc, eq } from "drizzle-orm";
import { ConfigError, type Db, type Logger } from "@gateway/common";
import { storedCredentials } from "../db/schema.js";
import type { ParamSeal } from "../model-admin/sealed-params.js";

/** A stored credential, its values opened. */
export interface StoredCredential {
  name: string;
  values: Record<string, unknown>;
  info: Record<string, unknown>;
}

type Row = typeof storedCredentials.$inferSelect;

/** The credentials stored with POST /credentials, shared by every router replica; their secret values are kept sealed. */
export class CredentialStore {
  constructor(
    private readonly db: Db,
    private readonly seal: ParamSeal,
    private readonly logger: Logger,
  ) {}

  /** Every stored credential, oldest first; one sealed under another key (LITELLM_SALT_KEY or the master key changed) is skipped. */
  async all(): Promise<StoredCredential[]> {
    const rows = await this.db.select().from(storedCredentials).orderBy(asc(storedCredentials.createdAt), asc(storedCredentials.name));
    const opened: StoredCredential[] = [];
    for (const row of rows) {
      try {
        opened.push(this.open(row));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        this.logger.error({ credential: row.name, err: err.message }, "stored credential skipped");
      }
    }
    return opened;
  }

  /** False when one of that name is stored already. */
  async add(credential: StoredCredential): Promise<boolean> {
    const rows = await this.db
      .insert(storedCredentials)
      .values({ name: credential.name, credentialValues: this.seal.seal(credential.values), credentialInfo: credential.info })
      .onConflictDoNothing()
      .returning({ name: storedCredentials.name });
    return rows.length > 0;
  }

  /**
   * Replaces a stored credential by what `change` makes of it (values
   * opened), the row locked meanwhile; a new name renames it. False when
   * there is no such credential; whatever `change` throws (a ConfigError
   * when its values were sealed under another key) leaves it as it was.
   */
  async update(name: string, change: (credential: StoredCredential) => StoredCredential): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(storedCredentials).where(eq(storedCredentials.name, name)).for("update");
      if (!row) return false;
      const changed = change(this.open(row));
      await tx
        .update(storedCredentials)
        .set({ name: changed.name, credentialValues: this.seal.seal(changed.values), credentialInfo: changed.info, updatedAt: new Date() })
        .where(eq(storedCredentials.name, name));
      return true;
    });
  }

  /** True when there was such a credential. */
  async delete(name: string): Promise<boolean> {
    const rows = await this.db.delete(storedCredentials).where(eq(storedCredentials.name, name)).returning({ name: storedCredentials.name });
    return rows.length > 0;
  }

  private open(row: Row): StoredCredential {
    return { name: row.name, values: this.seal.open(row.credentialValues, `credential "${row.name}".credential_values`), info: row.credentialInfo };
  }
}
