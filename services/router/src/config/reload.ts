import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ConfigError, parseConfig, type GatewayConfig, type Logger } from "@gateway/common";

// Editors write a file in several steps; one reload after they settle.
const SETTLE_MS = 100;

/**
 * Re-reads config.yaml when it changes on disk and on demand (SIGHUP), and
 * hands a valid one to `apply`. A file that does not parse, or a model list
 * `apply` refuses, is logged and ignored: the running config stays.
 */
export class ConfigReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    /** Throws a ConfigError when the new config cannot be used. */
    private readonly apply: (config: GatewayConfig) => void,
    private readonly logger: Logger,
  ) {}

  /**
   * Watches the file's directory rather than the file: editors and
   * Kubernetes replace a file by renaming another over it, which a watch
   * on the old file would never see.
   */
  start(initialText?: string): void {
    this.lastText = initialText;
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, changed) => {
      // Kubernetes swaps a "..data" symlink; the content check below sorts out what matters.
      if (changed !== null && changed !== name && !changed.startsWith("..")) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(false), SETTLE_MS);
    });
    this.watcher.on("error", (err) => this.logger.error({ err: err.message, path: this.path }, "config watch failed; SIGHUP still reloads"));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }

  /** Reads and applies the file; `force` applies it even when its text did not change (SIGHUP: the environment may have). */
  reload(force = true): Promise<void> {
    this.running = this.running.then(() => this.readAndApply(force));
    return this.running;
  }

  private async readAndApply(force: boolean): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      this.logger.error({ path: this.path, err: (err as NodeJS.ErrnoException).code ?? String(err) }, "config reload rejected: cannot read the file; keeping the running config");
      return;
    }
    if (!force && text === this.lastText) return;
    try {
      this.apply(parseConfig(text));
      this.lastText = text;
    } catch (err) {
      // Remembered, so the watcher's repeated events for this text do not log it again.
      this.lastText = text;
      const message = err instanceof ConfigError ? err.message : `unexpected: ${String(err)}`;
      this.logger.error({ path: this.path, err: message }, "config reload rejected; keeping the running config");
    }
  }
}
