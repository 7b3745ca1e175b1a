// How many latencies per deployment the latency-based strategy averages.
const LATENCY_SAMPLES = 10;
/** The average latency of a deployment not measured yet: below any measured one. */
const UNMEASURED = -1;

interface Stats {
  inFlight: number;
  /** Recent latencies, ms, as a ring. */
  latencies: number[];
  next: number;
  /** UNMEASURED until a latency is recorded. */
  averageMs: number;
}

/**
 * What this router replica has seen of each deployment, by id: calls in
 * flight (least-busy) and recent latencies (latency-based routing). Kept
 * across config reloads, so a deployment that stays keeps its history.
 */
export class DeploymentStats {
  private readonly stats = new Map<string, Stats>();

  private of(id: string): Stats {
    let s = this.stats.get(id);
    if (!s) {
      s = { inFlight: 0, latencies: [], next: 0, averageMs: UNMEASURED };
      this.stats.set(id, s);
    }
    return s;
  }

  /** A call to the deployment began; `done` must follow once it ends, whatever happened. */
  began(id: string): void {
    this.of(id).inFlight += 1;
  }

  done(id: string): void {
    const s = this.of(id);
    s.inFlight = Math.max(0, s.inFlight - 1);
  }

  inFlight(id: string): number {
    return this.stats.get(id)?.inFlight ?? 0;
  }

  /** How long the deployment took to answer (to its first byte, for streams). */
  recordLatency(id: string, ms: number): void {
    const s = this.of(id);
    if (s.latencies.length < LATENCY_SAMPLES) s.latencies.push(ms);
    else s.latencies[s.next] = ms;
    s.next = (s.next + 1) % LATENCY_SAMPLES;
    s.averageMs = s.latencies.reduce((a, b) => a + b, 0) / s.latencies.length;
  }

  /**
   * Average recent latency; below any measured one (even 0 ms: a local
   * deployment can answer within the clock's resolution) for a deployment
   * never measured, so each gets tried.
   */
  averageLatency(id: string): number {
    return this.stats.get(id)?.averageMs ?? UNMEASURED;
  }

  /** Forgets deployments that left the model list (their calls in flight still end safely). */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, s] of this.stats) if (!ids.has(id) && s.inFlight === 0) this.stats.delete(id);
  }
}
