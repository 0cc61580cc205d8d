/**
 * Latency-by-percentile chart (the classic HdrHistogram plot): x is the percentile on a "nines" scale
 * (0%, 90%, 99%, 99.9%, ... evenly spaced, so the tail gets the room), y the value; the 100th percentile (max) sits
 * half a step after the last finite one. Self-contained SVG, no dependencies; `.html` wraps the same SVG in a page.
 * Used by `bench --plot`: series points come from `Hdr.percentile(q)` for q in PLOT_PERCENTILES.
 */
import fs from 'node:fs';
import type { HdrSummary } from './hdr.js';

/** The percentiles a plotted curve is sampled at. */
export const PLOT_PERCENTILES: readonly number[] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100];

/** A curve: either sampled points, or an HDR summary (p50 … p99.99 and max). */
export interface PlotSeries {
  label: string;
  /** [percentile 0-100, value] pairs, ascending by percentile. */
  points?: [number, number][];
  summary?: HdrSummary;
}

function pointsOf(s: PlotSeries): [number, number][] {
  if (s.points) return s.points;
  const m = s.summary;
  if (!m) return [];
  const pairs: [number, number | null][] = [[50, m.p50], [90, m.p90], [99, m.p99], [99.9, m['p99.9']], [99.99, m['p99.99']], [100, m.max]];
  return pairs.filter((p): p is [number, number] => typeof p[1] === 'number');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Percentile → "nines": 90% → 1, 99% → 2, 99.9% → 3. */
const nines = (q: number): number => Math.log10(100 / (100 - q));

/** A round step giving about `n` ticks up to `max`. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

export function plotSvg(input: PlotSeries[], title: string, unit = 'ms'): string {
  const series = input.map((s) => ({ label: s.label, points: pointsOf(s) }));
  const W = 800, H = 460, L = 70, R = 24, T = 44, B = 60;
  const pw = W - L - R, ph = H - T - B;
  let ymax = 0;
  let xmaxFinite = 1;
  for (const s of series) {
    for (const [q, v] of s.points) {
      if (v > ymax) ymax = v;
      if (q < 100) xmaxFinite = Math.max(xmaxFinite, Math.ceil(nines(q)));
    }
  }
  if (!(ymax > 0)) ymax = 1;
  const xMaxPos = xmaxFinite + 0.5;
  const step = niceStep(ymax, 5);
  const top = Math.ceil(ymax / step) * step;
  const xq = (q: number): number => L + (pw * (q >= 100 ? xMaxPos : nines(q))) / xMaxPos;
  const y = (v: number): number => T + ph - (ph * v) / top;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 8}" y="${yy}" dy="4" text-anchor="end">${+v.toPrecision(6)}</text>`);
  }
  const ticks: [number, string][] = [];
  for (let k = 0; k <= xmaxFinite; k++) ticks.push([L + (pw * k) / xMaxPos, `${+(100 - 100 / 10 ** k).toFixed(k)}%`]);
  ticks.push([L + pw, 'max']);
  for (const [tx, label] of ticks) {
    out.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${T}" y2="${T + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${tx.toFixed(1)}" y="${T + ph + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<text x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">percentile</text>`);
  out.push(`<text transform="translate(18 ${T + ph / 2}) rotate(-90)" text-anchor="middle">latency (${esc(unit)})</text>`);
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    if (s.points.length) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map(([q, v]) => `${xq(q).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
      for (const [q, v] of s.points) out.push(`<circle cx="${xq(q).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${color}"><title>p${q}: ${v} ${esc(unit)}</title></circle>`);
    }
    out.push(`<rect x="${L + 10}" y="${T + 10 + k * 18}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${L + 28}" y="${T + 20 + k * 18}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes `file` as SVG, or as an HTML page around the SVG when the name ends in .html. */
export function writePlot(file: string, series: PlotSeries[], title: string, unit = 'ms'): void {
  const svg = plotSvg(series, title, unit);
  const body = /\.html?$/i.test(file)
    ? `<!doctype html>\n<html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>\n${svg}</body></html>\n`
    : svg;
  fs.writeFileSync(file, body);
}
