/**
 * `kstream top`: what one scrape of a running job's /metrics says (a Snapshot), what two scrapes of it in a row say
 * (a TopRow: rates, latency over the interval, lag and its trend), and the table that shows the rows.
 */
import http from 'node:http';
import https from 'node:https';
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { bucketsOf, maxOf, parseExposition, sumOf } from './prometheus.js';
import { group } from './table.js';
import { formatBytes, formatDuration } from '../time/duration.js';
import { hostPort, hostPortText } from './metrics-server.js';

/** What one scrape of a target gave: the totals, or why there were none. */
export interface Snapshot {
  /** Monotonic ms when the answer came. */
  at: number;
  up: boolean;
  /** Why the target is down (connection refused, no answer within …, HTTP 404, not Prometheus text). */
  reason?: string;
  recordsIn?: number;
  recordsOut?: number;
  lagRecords?: number;
  lagSecondsMax?: number;
  errors?: number;
  dropped?: number;
  cpuSeconds?: number;
  rssBytes?: number;
  startTime?: number;
  /** kstream_end_to_end_latency_seconds, cumulative by upper bound (seconds), +Inf last. */
  latency: { le: number; count: number }[];
}

/** One target's row, as `--json` prints it: numbers, or null where there is nothing to show (yet). */
export interface TopRow {
  target: string;
  url: string;
  status: 'up' | 'down';
  reason?: string;
  records_in_per_s: number | null;
  records_out_per_s: number | null;
  records_in: number | null;
  records_out: number | null;
  lag_records: number | null;
  lag_seconds_max: number | null;
  /** Lag (records) went up since the previous scrape: the job falls behind. */
  lag_growing: boolean;
  latency_p50_s: number | null;
  latency_p99_s: number | null;
  errors: number | null;
  dropped: number | null;
  cpu_percent: number | null;
  rss_bytes: number | null;
}

/** The Snapshot of one exposition's text, scraped at `at` (throws on text that is not the exposition format). */
export function snapshotOf(text: string, at: number): Snapshot {
  const e = parseExposition(text);
  return {
    at,
    up: true,
    recordsIn: sumOf(e, 'kstream_records_in_total'),
    recordsOut: sumOf(e, 'kstream_records_out_total'),
    lagRecords: sumOf(e, 'kstream_consumer_lag_records'),
    lagSecondsMax: maxOf(e, 'kstream_consumer_lag_seconds'),
    errors: sumOf(e, 'kstream_errors_total'),
    dropped: sumOf(e, 'kstream_records_dropped_total'),
    cpuSeconds: sumOf(e, 'process_cpu_seconds_total'),
    rssBytes: sumOf(e, 'process_resident_memory_bytes'),
    startTime: sumOf(e, 'process_start_time_seconds'),
    latency: bucketsOf(e, 'kstream_end_to_end_latency_seconds'),
  };
}

/**
 * The q-quantile (0 < q ≤ 1) of the observations counted in cumulative buckets (`count` observations ≤ `le`,
 * ascending, `+Inf` last), estimated as Prometheus' histogram_quantile does: find the bucket in which the rank
 * q·total falls, and assume its observations are spread evenly between the bucket's lower bound (the previous
 * bucket's upper bound; 0 for the first) and its upper bound, interpolating linearly. The estimate is only as fine
 * as the buckets: it is always within the right bucket, but the true value may be anywhere inside it. A rank in the
 * `+Inf` bucket has no upper bound: the estimate is the highest finite bound (a floor: the value is at least that).
 * null when nothing was counted.
 */
export function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number | null {
  if (buckets.length === 0) return null;
  const total = buckets[buckets.length - 1].count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank && b.count > below) {
      if (b.le === Infinity) return lower;
      return lower + ((b.le - lower) * (rank - below)) / (b.count - below);
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** `cur` minus `prev`, bucket by bucket (the observations between two scrapes); empty when they do not line up. */
export function bucketDelta(cur: Snapshot['latency'], prev: Snapshot['latency']): Snapshot['latency'] {
  if (cur.length !== prev.length || cur.some((b, i) => b.le !== prev[i].le || b.count < prev[i].count)) return [];
  return cur.map((b, i) => ({ le: b.le, count: b.count - prev[i].count }));
}

/** Rounded to 1/per (the JSON shows 2000.123 records/s and µs, not float noise). */
const round = (v: number | null, per: number): number | null => (v === null ? null : Math.round(v * per) / per);

const orNull = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);

/**
 * The row of a target from its latest scrape and the one before (none on the first). Rates, CPU and latency are
 * over the time between the two, so they need both, from the same process: a restarted job (another start time,
 * counters gone down) shows totals only until its next scrape.
 */
export function rowOf(target: string, url: string, cur: Snapshot, prev: Snapshot | undefined): TopRow {
  const row: TopRow = {
    target,
    url,
    status: cur.up ? 'up' : 'down',
    ...(cur.up ? {} : { reason: cur.reason ?? 'no answer' }),
    records_in_per_s: null,
    records_out_per_s: null,
    records_in: orNull(cur.recordsIn),
    records_out: orNull(cur.recordsOut),
    lag_records: orNull(cur.lagRecords),
    lag_seconds_max: orNull(cur.lagSecondsMax),
    lag_growing: false,
    latency_p50_s: null,
    latency_p99_s: null,
    errors: orNull(cur.errors),
    dropped: orNull(cur.dropped),
    cpu_percent: null,
    rss_bytes: orNull(cur.rssBytes),
  };
  if (!cur.up) return row;
  const same = prev?.up && prev.startTime === cur.startTime && (cur.recordsIn ?? 0) >= (prev.recordsIn ?? 0);
  const seconds = prev ? (cur.at - prev.at) / 1000 : 0;
  if (!prev || !same || !(seconds > 0)) return row;
  const rate = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || a < b ? null : (a - b) / seconds);
  row.records_in_per_s = round(rate(cur.recordsIn, prev.recordsIn), 1e3);
  row.records_out_per_s = round(rate(cur.recordsOut, prev.recordsOut), 1e3);
  const cpu = rate(cur.cpuSeconds, prev.cpuSeconds);
  row.cpu_percent = round(cpu === null ? null : cpu * 100, 1e2);
  row.lag_growing = cur.lagRecords !== undefined && prev.lagRecords !== undefined && cur.lagRecords > prev.lagRecords;
  // latency of the records written in this interval, not since the job started: the buckets' growth
  const delta = bucketDelta(cur.latency, prev.latency);
  row.latency_p50_s = round(bucketQuantile(0.5, delta), 1e6);
  row.latency_p99_s = round(bucketQuantile(0.99, delta), 1e6);
  return row;
}

/** 1234.5 → "1,235"; below 10 one decimal ("2.5"); null → "–". */
function rate(v: number | null): string {
  if (v === null) return '–';
  return v < 10 && v !== Math.round(v) ? v.toFixed(1) : group(Math.round(v));
}

const seconds = (s: number | null): string => (s === null ? '–' : formatDuration(s * 1000));
const bytes = (v: number | null): string => (v === null ? '–' : formatBytes(v));

const total = (v: number | null): string => (v === null ? '–' : group(v));

export const TOP_HEAD = ['target', 'in/s', 'out/s', 'in', 'lag', 'lag s', 'p50', 'p99', 'errors', 'dropped', 'cpu', 'rss'];

/**
 * The rows as a table: a down target is one red cell with the reason; a growing lag is red, errors and dropped
 * records yellow when there are any.
 */
export function topTable(rows: readonly TopRow[], c: ChalkInstance): string {
  const t = new Table({
    head: TOP_HEAD.map((h) => c.bold(h)),
    colAligns: TOP_HEAD.map((_, i) => (i === 0 ? 'left' : 'right')),
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) {
    const target = c.cyan(r.target);
    if (r.status === 'down') {
      t.push([target, { colSpan: TOP_HEAD.length - 1, hAlign: 'left', content: c.red(`down: ${r.reason ?? 'no answer'}`) }]);
      continue;
    }
    const lag = r.lag_records === null ? '–' : group(r.lag_records);
    const warn = (v: number | null) => (v ? c.yellow(total(v)) : total(v));
    t.push([
      target,
      rate(r.records_in_per_s),
      rate(r.records_out_per_s),
      total(r.records_in),
      r.lag_growing ? c.red(`${lag} ↑`) : lag,
      seconds(r.lag_seconds_max),
      seconds(r.latency_p50_s),
      seconds(r.latency_p99_s),
      warn(r.errors),
      warn(r.dropped),
      r.cpu_percent === null ? '–' : `${Math.round(r.cpu_percent)}%`,
      bytes(r.rss_bytes),
    ]);
  }
  return t.toString();
}

/** A target as given on the command line, and the URL scraped. */
export interface Target {
  name: string;
  url: string;
}

/**
 * `host:port`, `:port` (127.0.0.1, as `--metrics :port` listens), `[v6]:port`, or a whole http(s) URL (its path
 * as given); undefined for anything else.
 */
export function targetOf(text: string): Target | undefined {
  const t = text.trim();
  if (/^https?:\/\//i.test(t)) {
    try {
      const u = new URL(t);
      return u.hostname ? { name: t, url: u.href } : undefined;
    } catch {
      return undefined;
    }
  }
  const at = hostPort(t);
  if (!at || at.port === 0) return undefined;
  return { name: t, url: `http://${hostPortText(at)}/metrics` };
}

/** Why a request failed, in a few words: the system's code where there is one. */
function reasonOf(e: unknown): string {
  const err = e as { message?: string; code?: string };
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
  };
  if (err?.code && words[err.code]) return words[err.code];
  const msg = err?.message ?? String(e);
  if (/connection refused/i.test(msg)) return 'connection refused';
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}

/**
 * GETs the URL's body as text, rejecting after `timeoutMs` or when `stop` aborts. node:http rather than fetch: fetch
 * refuses the ports of its "bad ports" list (6000, 6665–6669, 10080, …), which a job may well serve metrics on.
 */
function get(url: string, timeoutMs: number, stop?: AbortSignal): Promise<{ status: number; statusText: string; text: string }> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    let timedOut = false;
    const req = lib.get(url, { headers: { accept: 'text/plain' }, signal: stop, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy();
    }, timeoutMs);
    function fail(e: Error): void {
      clearTimeout(timer);
      reject(timedOut ? new Error(`no answer within ${timeoutMs} ms`) : e);
    }
    req.on('error', fail);
  });
}

/**
 * Scrapes one target: a Snapshot, down with a reason when it does not answer within `timeoutMs`, answers other than
 * 200, or answers with text that is not the exposition format. `clock` is monotonic ms.
 */
export async function scrapeTarget(t: Target, timeoutMs: number, clock: () => number, stop?: AbortSignal): Promise<Snapshot> {
  const down = (reason: string): Snapshot => ({ at: clock(), up: false, reason, latency: [] });
  let res;
  try {
    res = await get(t.url, timeoutMs, stop);
  } catch (e) {
    return down(reasonOf(e));
  }
  if (res.status !== 200) return down(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  try {
    return snapshotOf(res.text, clock());
  } catch (e) {
    return down(`not Prometheus text (${(e as Error).message})`);
  }
}
