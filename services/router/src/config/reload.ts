import { readFileSync, watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { ConfigError, includedFiles, parseConfig, type GatewayConfig, type Logger } from "@gateway/common";

// Editors write a file in several steps; one reload after they settle.
const SETTLE_MS = 100;

/**
 * Re-reads config.yaml when it or a file it includes changes on disk, and
 * on demand (SIGHUP), and hands a valid one to `apply`. A file that does not
 * parse, or a model list `apply` refuses, is logged and ignored: the running
 * config stays.
 */
export class ConfigReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The texts last read (config.yaml's, then its includes'), to skip events that changed nothing. */
  private lastSeen: string | undefined;
  /** Names in config.yaml's directory that it includes: their changes reload it too. */
  private included = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private readonly dir: string;

  constructor(
    private readonly path: string,
    /** Throws a ConfigError when the new config cannot be used. */
    private readonly apply: (config: GatewayConfig) => void,
    private readonly logger: Logger,
  ) {
    this.dir = dirname(path);
  }

  /**
   * Watches the file's directory rather than the file: editors and
   * Kubernetes replace a file by renaming another over it, which a watch
   * on the old file would never see. Included files elsewhere are read on
   * every reload, but only SIGHUP or a change next to config.yaml starts one.
   */
  start(): void {
    this.noteIncluded(readFileSync(this.path, "utf8"));
    const name = basename(this.path);
    this.watcher = watch(this.dir, (_event, changed) => {
      // Kubernetes swaps a "..data" symlink; the content check below sorts out what matters.
      if (changed !== null && changed !== name && !changed.startsWith("..") && !this.included.has(changed)) return;
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
    const seen = [text, ...(await this.includedTexts(text))].join("\0");
    if (!force && seen === this.lastSeen) return;
    // Remembered either way, so the watcher's repeated events for these texts do not log a rejection again.
    this.lastSeen = seen;
    try {
      this.apply(parseConfig(text, process.env, this.dir));
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : `unexpected: ${String(err)}`;
      this.logger.error({ path: this.path, err: message }, "config reload rejected; keeping the running config");
    }
  }

  /** What the files config.yaml includes hold now ("" for one that cannot be read: parsing reports it). */
  private includedTexts(text: string): Promise<string[]> {
    const files = this.noteIncluded(text);
    return Promise.all(files.map((file) => readFile(resolve(this.dir, file), "utf8").catch(() => "")));
  }

  /** The files config.yaml includes, remembering which of them sit beside it; none when its include list does not parse. */
  private noteIncluded(text: string): string[] {
    let files: string[];
    try {
      files = includedFiles(text);
    } catch {
      return [];
    }
    this.included = new Set(files.filter((file) => dirname(resolve(this.dir, file)) === this.dir).map((file) => basename(file)));
    return files;
  }
}
