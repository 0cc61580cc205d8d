/**
 * Latency-by-percentile chart (the classic HdrHistogram plot): x is the percentile on a "nines" scale
 * (50%, 90%, 99%, 99.9%, 99.99%, max evenly spaced), y the value. Self-contained SVG, no dependencies; `.html` wraps
 * the same SVG in a page. Used by `bench --plot`.
 */
import fs from 'node:fs';
import type { HdrSummary } from './hdr.js';

export interface PlotSeries {
  label: string;
  summary: HdrSummary;
}

const POINTS: { key: keyof HdrSummary; label: string }[] = [
  { key: 'p50', label: '50%' },
  { key: 'p90', label: '90%' },
  { key: 'p99', label: '99%' },
  { key: 'p99.9', label: '99.9%' },
  { key: 'p99.99', label: '99.99%' },
  { key: 'max', label: 'max' },
];
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step giving about `n` ticks up to `max`. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

export function plotSvg(series: PlotSeries[], title: string, unit = 'ms'): string {
  const W = 760, H = 440, L = 70, R = 20, T = 40, B = 60;
  const pw = W - L - R, ph = H - T - B;
  let ymax = 0;
  for (const s of series) for (const p of POINTS) ymax = Math.max(ymax, Number(s.summary[p.key] ?? 0));
  if (!(ymax > 0)) ymax = 1;
  const step = niceStep(ymax, 5);
  const top = Math.ceil(ymax / step) * step;
  const x = (i: number): number => L + (pw * i) / (POINTS.length - 1);
  const y = (v: number): number => T + ph - (ph * v) / top;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 8}" y="${yy}" dy="4" text-anchor="end">${+v.toPrecision(6)}</text>`);
  }
  POINTS.forEach((p, i) => {
    out.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${T}" y2="${T + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(i)}" y="${T + ph + 18}" text-anchor="middle">${p.label}</text>`);
  });
  out.push(`<text x="${L + pw / 2}" y="${H - 14}" text-anchor="middle">percentile</text>`);
  out.push(`<text transform="translate(18 ${T + ph / 2}) rotate(-90)" text-anchor="middle">latency (${esc(unit)})</text>`);
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = POINTS.map((p, i) => [x(i), s.summary[p.key]] as const).filter(([, v]) => typeof v === 'number') as [number, number][];
    if (pts.length) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([px, v]) => `${px.toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
      for (const [px, v] of pts) out.push(`<circle cx="${px.toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"><title>${v} ${esc(unit)}</title></circle>`);
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
