/** Terminal tables for summaries (stats, bench); their colour comes from color.ts. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
export { colorLevel, paint, type ColorLevel } from './color.js';
import process from 'node:process';
import { PERCENTILES, type HdrSummary } from './hdr.js';

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

/** A plain table of rows on stdout (numbers right-aligned), or the `empty` line for no rows. */
export function printTable(head: string[], rows: (string | number)[][], c: ChalkInstance, empty: string): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const numeric = head.map((_, i) => rows.every((r) => typeof r[i] === 'number' || r[i] === '-'));
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    colAligns: numeric.map((n) => (n ? 'right' : 'left')),
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) t.push(r.map((v) => (typeof v === 'number' ? group(v) : v)));
  process.stdout.write(t.toString() + '\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
