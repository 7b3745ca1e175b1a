import type { Bus, Logger } from "@gateway/common";
import { toTeamRecord, type TeamRecord } from "./team-record.js";
import type { TeamStore } from "./team-store.js";

/** Live subject on which a team change is pushed to every keys replica. */
export const TEAMS_CHANGED_SUBJECT = "keys.teams_changed";

// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;

/**
 * Every team in memory, so a model call never waits on the database. Teams
 * are few and change rarely: any change reloads them all, here and, by a
 * push, on every other replica.
 */
export class TeamCache {
  private teams = new Map<string, TeamRecord>();
  // Reloads are numbered as they start; one whose rows were read before a
  // later-started one's were applied changes nothing.
  private reads = 0;
  private applied = 0;
  private stopListening: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: TeamStore,
    private readonly bus: Bus,
    private readonly logger: Logger,
    /** Told whenever a team changed: every key's answers may have. */
    private readonly onChange: () => void,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    const reloadLogged = () => this.reload().catch((err: unknown) => this.logger.error({ err: (err as Error).message }, "team reload failed"));
    this.stopListening = this.bus.listen(TEAMS_CHANGED_SUBJECT, reloadLogged);
    this.resyncTimer = setInterval(reloadLogged, RESYNC_MS);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.stopListening?.();
    clearInterval(this.resyncTimer);
  }

  get(teamId: string): TeamRecord | undefined {
    return this.teams.get(teamId);
  }

  async reload(): Promise<void> {
    const read = ++this.reads;
    const rows = await this.store.all();
    if (read < this.applied) return;
    this.applied = read;
    this.teams = new Map(rows.map((row) => [row.teamId, toTeamRecord(row)]));
    this.onChange();
  }

  /** Applies a change here now and pushes it to every other replica. */
  async changed(): Promise<void> {
    await this.reload();
    this.bus.broadcast(TEAMS_CHANGED_SUBJECT, new Uint8Array(0));
  }
}
