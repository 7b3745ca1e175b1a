import type { Logger } from "./logger.js";

/**
 * Logs a run of failures of one kind of work once. Work retried every
 * second (writes to a database that is down, say) fails the same way each
 * time and for every item at once: the first failure is logged at error
 * level (or warn), the rest of the run at debug, and the first success after it at
 * info with how many failed, so an outage is two lines, not thousands.
 */
export class FailureRun {
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    /** What goes through again, in the plural ("budget spend writes"), for the line that ends the run. */
    private readonly what: string,
    /** The first failure's level: warn where nothing is lost meanwhile. */
    private readonly level: "error" | "warn" = "error",
  ) {}

  failed(fields: Record<string, unknown>, message: string): void {
    if (this.failures++ === 0) this.logger[this.level](fields, message);
    else this.logger.debug(fields, message);
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.logger.info({ failed: this.failures }, `${this.what} go through again`);
    this.failures = 0;
  }
}
