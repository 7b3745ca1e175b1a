import type { Registry } from "prom-client";

// Counters, gauges and histograms for what changes on every request, kept
// as plain numbers per label set and rendered only when scraped. prom-client's
// own metrics hash and validate their labels object on every update, about
// 1 µs each and a dozen updates per request; here an update is a Map lookup
// by the label values joined.

interface Value {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

/** The labels a series was made with, by name. */
function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, i) => (labels[name] = values[i] ?? ""));
  return labels;
}

/** What prom-client's Registry reads of a metric; the rest of its Metric shape it does not use. */
abstract class Series<S> {
  readonly aggregator = "sum";
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames' order), made on first use. */
  protected at(values: readonly string[]): S {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) {
      s = this.create(labelsOf(this.labelNames, values));
      this.series.set(key, s);
    }
    return s;
  }

  protected abstract create(labels: Record<string, string>): S;
  protected abstract values(): Value[];

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  reset(): void {
    this.series.clear();
  }

  /** Drops the series whose `label`'s value is `gone` (a deleted key's, a removed deployment's); none when the metric has no such label. */
  forget(label: string, gone: (value: string) => boolean): void {
    const at = this.labelNames.indexOf(label);
    if (at < 0) return;
    for (const key of this.series.keys()) if (gone(key.split("\u0000")[at]!)) this.series.delete(key);
  }
}

interface Scalar {
  labels: Record<string, string>;
  value: number;
}

export class SeriesCounter extends Series<Scalar> {
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, "counter", labelNames, registry);
  }

  inc(values: readonly string[], by = 1): void {
    this.at(values).value += by;
  }

  protected create(labels: Record<string, string>): Scalar {
    return { labels, value: 0 };
  }

  protected values(): Value[] {
    return [...this.series.values()].map(({ labels, value }) => ({ labels, value }));
  }
}

export class SeriesGauge extends Series<Scalar> {
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, "gauge", labelNames, registry);
  }

  add(values: readonly string[], by: number): void {
    this.at(values).value += by;
  }

  set(values: readonly string[], to: number): void {
    this.at(values).value = to;
  }

  protected create(labels: Record<string, string>): Scalar {
    return { labels, value: 0 };
  }

  protected values(): Value[] {
    return [...this.series.values()].map(({ labels, value }) => ({ labels, value }));
  }
}

interface Buckets {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export class SeriesHistogram extends Series<Buckets> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, "histogram", labelNames, registry);
  }

  observe(values: readonly string[], value: number): void {
    const s = this.at(values);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  protected create(labels: Record<string, string>): Buckets {
    return { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  protected values(): Value[] {
    const out: Value[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
      out.push({ metricName: `${this.name}_sum`, labels, value: sum });
      out.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return out;
  }
}
