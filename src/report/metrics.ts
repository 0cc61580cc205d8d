/**
 * A small metrics registry and its Prometheus text exposition (format 0.0.4): counters, gauges and histograms
 * with labels, and collectors that read values only when scraped. Written by hand rather than with prom-client:
 * loading prom-client took 100–190 ms on this machine (its dependencies included), start-up that a
 * `gen | kstream produce` pipeline pays as latency, while a run needs only this much of it.
 *
 * Nothing here is module state: a run makes its own Registry (pipeline/run-metrics.ts), kept in its RunContext.
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

function labelText(labels: Labels | undefined, extra?: string): string {
  const parts: string[] = [];
  if (labels) for (const k of Object.keys(labels)) parts.push(`${k}="${escapeLabel(labels[k])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Numbers as the format spells them: +Inf, -Inf, NaN, else the shortest exact decimal. */
export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

const keyOf = (labels: Labels | undefined): string => (labels ? JSON.stringify(labels) : '');

/** A value per label set. */
abstract class Labelled<T> implements Family {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { labels: Labels | undefined; v: T }>();
  constructor(readonly name: string, readonly help: string) {}

  protected get(labels: Labels | undefined, make: () => T): T {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, v: make() }));
    return s.v;
  }

  abstract write(lines: string[]): void;
}

/** A value that only goes up (`_total`). */
export class Counter extends Labelled<{ n: number }> {
  readonly type = 'counter' as const;

  inc(n = 1, labels?: Labels): void {
    this.get(labels, () => ({ n: 0 })).n += n;
  }

  /** For a count kept elsewhere (read when scraped): the counter becomes that value. */
  set(n: number, labels?: Labels): void {
    this.get(labels, () => ({ n: 0 })).n = n;
  }

  value(labels?: Labels): number {
    return this.series.get(keyOf(labels))?.v.n ?? 0;
  }

  write(lines: string[]): void {
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(s.labels)} ${formatValue(s.v.n)}`);
  }
}

/** A value that goes up and down; `clear` drops every series (partitions no longer assigned). */
export class Gauge extends Labelled<{ n: number }> {
  readonly type = 'gauge' as const;

  set(n: number, labels?: Labels): void {
    this.get(labels, () => ({ n: 0 })).n = n;
  }

  value(labels?: Labels): number | undefined {
    return this.series.get(keyOf(labels))?.v.n;
  }

  clear(): void {
    this.series.clear();
  }

  write(lines: string[]): void {
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(s.labels)} ${formatValue(s.v.n)}`);
  }
}

interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets (upper bounds, inclusive), cumulative when exposed, with `+Inf`. */
export class Histogram extends Labelled<Buckets> {
  readonly type = 'histogram' as const;
  constructor(name: string, help: string, readonly bounds: readonly number[]) {
    super(name, help);
  }

  /** One observation (`times` of the same value: a batch's records sharing one measure). */
  observe(v: number, labels?: Labels, times = 1): void {
    const b = this.get(labels, () => ({ counts: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 }));
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    if (i < bounds.length) b.counts[i] += times;
    b.sum += v * times;
    b.count += times;
  }

  write(lines: string[]): void {
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.v.counts[i];
        lines.push(`${this.name}_bucket${labelText(s.labels, `le="${formatValue(this.bounds[i])}"`)} ${acc}`);
      }
      lines.push(`${this.name}_bucket${labelText(s.labels, 'le="+Inf"')} ${s.v.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatValue(s.v.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.v.count}`);
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

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
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
