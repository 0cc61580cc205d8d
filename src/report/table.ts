/**
 * Terminal tables and colour for summaries (stats, bench).
 *
 * Colour is decided per target stream, here rather than by chalk's default instance: chalk 5 reads FORCE_COLOR and
 * the TTY but ignores NO_COLOR (its vendored supports-color has no NO_COLOR check), and its default instance looks
 * at stdout even when the summary goes to stderr.
 */
import process from 'node:process';
import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { PERCENTILES, type HdrSummary } from './hdr.js';

export type ColorLevel = 0 | 1 | 2 | 3;

/** https://no-color.org: a non-empty NO_COLOR disables colour; FORCE_COLOR forces it; otherwise TTYs get colour. */
export function colorLevel(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): ColorLevel {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const n = Number.parseInt(force, 10);
    return Number.isNaN(n) ? 1 : (Math.max(0, Math.min(3, n)) as ColorLevel);
  }
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  if (env.TERM && /-256(color)?$/i.test(env.TERM)) return 2;
  return 1;
}

export function paint(level: ColorLevel): ChalkInstance {
  return new Chalk({ level });
}

/** 1234567 → "1,234,567": fixed grouping, unlike toLocaleString, which follows the machine's locale. */
export function group(n: number): string {
  const neg = n < 0;
  const [int, frac] = String(Math.abs(n)).split('.');
  const g = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg ? '-' : '') + g + (frac !== undefined ? '.' + frac : '');
}

const cell = (v: number | null): string => (v === null ? '-' : String(v));

export interface PercentileRow {
  label: string;
  summary: HdrSummary;
}

export const PERCENTILE_HEADS = ['count', 'min', 'mean', ...PERCENTILES.map((p) => `p${p}`), 'max'];

/** One row per measured quantity: count, min, mean, p50 … p99.99, max. */
export function percentileTable(rows: PercentileRow[], c: ChalkInstance): string {
  const t = new Table({
    head: ['', ...PERCENTILE_HEADS].map((h) => c.bold(h)),
    colAligns: ['left', ...PERCENTILE_HEADS.map(() => 'right' as const)],
    style: { head: [], border: [], compact: true },
  });
  for (const { label, summary: s } of rows) {
    t.push([c.cyan(label), String(s.count), cell(s.min), cell(s.mean), cell(s.p50), cell(s.p90), cell(s.p99), cell(s['p99.9']), cell(s['p99.99']), cell(s.max)]);
  }
  return t.toString();
}

/** A two-column key/value table (bench settings, totals). */
export function keyValueTable(rows: [string, string | number][], c: ChalkInstance): string {
  const t = new Table({ style: { head: [], border: [], compact: true }, colAligns: ['left', 'right'] });
  for (const [k, v] of rows) t.push([c.bold(k), String(v)]);
  return t.toString();
}
