/**
 * A small metrics registry and its Prometheus text exposition (format 0.0.4): counters, gauges and histograms
 * with labels, and collectors that read values only when scraped. Written by hand rather than with prom-client:
 * loading prom-client took 100–190 ms on this machine (its dependencies included), start-up that a
 * `gen | kstream produce` pipeline pays as latency, while a run needs only this much of it.
 *
 * Nothing here is module state: a run makes its own Registry (report/run-metrics.ts).
 * Updates are meant per batch (`inc(n)`, `observe(v)` once per batch), never per record.
 */

export type Labels = Readonly<Record<string, string>>;

/** A metric family as exposed: name, help, type and one line per sample. */
interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  write(lines: string[]): void;
}

/** Label values escaped as the format asks: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaped as the format asks: backslash and newline. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** The inside of a sample's braces: `k="v",…` (empty without labels). */
function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  return Object.keys(labels).map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',');
}

/** `name{inner,extra}`, or `name` without labels. */
function sample(name: string, inner: string, extra?: string): string {
  const all = inner && extra ? `${inner},${extra}` : inner || extra || '';
  return all ? `${name}{${all}}` : name;
}

/** Numbers as the format spells them: +Inf, -Inf, NaN, else the shortest exact decimal. */
function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

/** A value per label set, keyed by its label text, which is written once, when the series is made. */
abstract class Labelled<T> implements Family {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, T>();
  constructor(readonly name: string, readonly help: string) {}

  /** The series of one label set, made on first use; keep it to update it without looking it up again. */
  at(labels?: Labels): T {
    const k = labelText(labels);
    let v = this.series.get(k);
    if (v === undefined) this.series.set(k, (v = this.make()));
    return v;
  }

  protected abstract make(): T;
  abstract write(lines: string[]): void;
}

/** A counter (only goes up, `_total`) or a gauge (up and down); `clear` drops every series (partitions no longer assigned). */
export class Scalar extends Labelled<{ n: number }> {
  constructor(name: string, help: string, readonly type: 'counter' | 'gauge') {
    super(name, help);
  }

  protected make(): { n: number } {
    return { n: 0 };
  }

  inc(n = 1, labels?: Labels): void {
    this.at(labels).n += n;
  }

  /** For a count kept elsewhere (read when scraped): the series becomes that value. */
  set(n: number, labels?: Labels): void {
    this.at(labels).n = n;
  }

  clear(): void {
    this.series.clear();
  }

  write(lines: string[]): void {
    for (const [inner, v] of this.series) lines.push(`${sample(this.name, inner)} ${formatValue(v.n)}`);
  }
}

/** One histogram series: observations counted into fixed buckets (upper bounds, inclusive). */
export class Buckets {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  /** One observation (`times` of the same value: a batch's records sharing one measure). */
  observe(v: number, times = 1): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    if (i < bounds.length) this.counts[i] += times;
    this.sum += v * times;
    this.count += times;
  }
}

/** Buckets per label set, cumulative when exposed, with `+Inf`. */
export class Histogram extends Labelled<Buckets> {
  readonly type = 'histogram' as const;
  /** The bounds as the exposition spells them, once. */
  private readonly le: string[];
  constructor(name: string, help: string, readonly bounds: readonly number[]) {
    super(name, help);
    this.le = bounds.map((b) => `le="${formatValue(b)}"`);
  }

  protected make(): Buckets {
    return new Buckets(this.bounds);
  }

  observe(v: number, labels?: Labels, times = 1): void {
    this.at(labels).observe(v, times);
  }

  write(lines: string[]): void {
    for (const [inner, b] of this.series) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += b.counts[i];
        lines.push(`${sample(`${this.name}_bucket`, inner, this.le[i])} ${acc}`);
      }
      lines.push(`${sample(`${this.name}_bucket`, inner, 'le="+Inf"')} ${b.count}`);
      lines.push(`${sample(`${this.name}_sum`, inner)} ${formatValue(b.sum)}`);
      lines.push(`${sample(`${this.name}_count`, inner)} ${b.count}`);
    }
  }
}

/** Bucket bounds in seconds for batch times: 10 µs to 10 s. */
export const BATCH_SECONDS = [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
/** Bucket bounds in seconds for end-to-end latency: 1 ms to 10 min. */
export const LATENCY_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

/** The families of one run, in registration order, and the collectors that refresh them before each scrape. */
export class Registry {
  private readonly families: Family[] = [];
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string): Scalar {
    return this.add(new Scalar(name, help, 'counter'));
  }

  gauge(name: string, help: string): Scalar {
    return this.add(new Scalar(name, help, 'gauge'));
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }

  /** Work done just before a scrape: reading counts kept elsewhere into the families. */
  collect(fn: () => void): void {
    this.collectors.push(fn);
  }

  private add<F extends Family>(f: F): F {
    if (this.families.some((g) => g.name === f.name)) throw new Error(`metric ${f.name} registered twice`);
    this.families.push(f);
    return f;
  }

  /** The text exposition: HELP and TYPE lines, then the samples, for every family that has any. */
  expose(): string {
    for (const fn of this.collectors) fn();
    const lines: string[] = [];
    for (const f of this.families) {
      const samples: string[] = [];
      f.write(samples);
      if (samples.length === 0) continue;
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...samples);
    }
    return lines.length ? lines.join('\n') + '\n' : '';
  }
}

/** The content type of the text exposition. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
