import { contextFor } from '../dist/src/pipeline/assemble.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hdr, shortestIn, SCALE } from '../dist/src/report/hdr.js';
import { colorLevel, group, paint, percentileTable, keyValueTable } from '../dist/src/report/table.js';
import { StatsStage, toEpochMs } from '../dist/src/report/stats.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { Rec } from '../dist/src/pipeline/record.js';
import stats from '../dist/commands/stats.js';

const ANSI = /\x1b\[/;

// --- HDR ------------------------------------------------------------------------------------------------------------

test('hdr: p50 of 1,2,3,4 is 2; p99 of 1..100 is 99 (SEMANTICS.md example 12)', () => {
  const a = new Hdr();
  for (const v of [1, 2, 3, 4]) a.record(v);
  assert.equal(a.percentile(50), 2);
  const b = new Hdr();
  for (let i = 1; i <= 100; i++) b.record(i);
  assert.equal(b.percentile(99), 99);
  assert.deepEqual(b.summary(), { count: 100, negative: 0, min: 1, mean: 50.5, p50: 50, p90: 90, p99: 99, 'p99.9': 100, 'p99.99': 100, max: 100 });
});

test('hdr: fixed point at 3 decimals; percentiles read as the shortest decimal in their bucket', () => {
  assert.equal(SCALE, 1000);
  const h = new Hdr();
  h.record(0.5);
  h.record(1.234);
  assert.equal(h.percentile(50), 0.5);
  assert.equal(h.percentile(99), 1.234); // below 2.048 every thousandth is exact
  const l = new Hdr();
  for (const v of [40, 40.123, 41]) l.record(v); // 40.123 ms is stored as 40123 µs, bucket 40096..40127
  assert.equal(l.percentile(50), 40.1); // the histogram knows 40.1, not 40.123
  const one = new Hdr();
  one.record(40.123);
  assert.equal(one.percentile(50), 40.123); // but never outside the exact min..max
  assert.equal(one.summary().max, 40.123);
  assert.equal(shortestIn(98944, 99007), 99000);
  assert.equal(shortestIn(40096, 40127), 40100);
  assert.equal(shortestIn(0, 0), 0);
  assert.equal(shortestIn(7, 7), 7);
  assert.equal(shortestIn(10, 30), 20);
});

test('hdr: negative values are counted apart; empty summary is nulls', () => {
  const h = new Hdr();
  assert.deepEqual(h.summary(), { count: 0, negative: 0, min: null, mean: null, p50: null, p90: null, p99: null, 'p99.9': null, 'p99.99': null, max: null });
  h.record(-5);
  h.record(10);
  h.record(20);
  const s = h.summary();
  assert.equal(s.count, 2);
  assert.equal(s.negative, 1);
  assert.equal(s.min, 10);
  assert.equal(s.mean, 15);
  assert.equal(s.p50, 10);
  assert.equal(s.max, 20);
  const big = new Hdr();
  big.record(1e13);
  assert.equal(big.summary().too_large, 1);
  assert.equal(big.count, 0);
});

test('hdr: add merges, reset empties, recordCorrected fills in the omitted samples', () => {
  const a = new Hdr(), b = new Hdr();
  for (let i = 1; i <= 50; i++) a.record(i);
  for (let i = 51; i <= 100; i++) b.record(i);
  b.record(-1);
  a.add(b);
  assert.equal(a.count, 100);
  assert.equal(a.negative, 1);
  assert.equal(a.percentile(99), 99);
  assert.equal(a.summary().min, 1);
  assert.equal(a.summary().max, 100);
  a.reset();
  assert.equal(a.count, 0);
  assert.equal(a.percentile(50), null);
  const c = new Hdr();
  c.recordCorrected(100, 10); // a 100 ms stall hid requests due every 10 ms: 90, 80, ..., 10
  assert.equal(c.count, 10);
  assert.equal(c.percentile(50), 50);
  c.recordCorrected(5, 10);
  assert.equal(c.count, 11);
});

// --- tables and colour ----------------------------------------------------------------------------------------------

test('colour: NO_COLOR wins, FORCE_COLOR forces, non-TTY and dumb terminals get none', () => {
  assert.equal(colorLevel({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '3' }), 0);
  assert.equal(colorLevel({ isTTY: true }, { NO_COLOR: '' }), 1); // empty NO_COLOR does not count (no-color.org)
  assert.equal(colorLevel({ isTTY: false }, {}), 0);
  assert.equal(colorLevel({ isTTY: false }, { FORCE_COLOR: '1' }), 1);
  assert.equal(colorLevel({ isTTY: false }, { FORCE_COLOR: '2' }), 2);
  assert.equal(colorLevel({ isTTY: true }, { FORCE_COLOR: '0' }), 0);
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'dumb' }), 0);
  assert.equal(colorLevel({ isTTY: true }, { TERM: 'xterm-256color' }), 2);
  assert.equal(colorLevel({ isTTY: true }, { COLORTERM: 'truecolor' }), 3);
  assert.equal(paint(0).bold('x'), 'x');
  assert.match(paint(1).bold('x'), ANSI);
});

test('tables: percentile rows, no escape codes without colour', () => {
  const h = new Hdr();
  for (let i = 1; i <= 100; i++) h.record(i);
  const text = percentileTable([{ label: 'r.v', summary: h.summary() }, { label: 'empty', summary: new Hdr().summary() }], paint(0));
  assert.doesNotMatch(text, ANSI);
  const lines = text.split('\n');
  assert.match(lines[1], /count .* min .* mean .* p50 .* p90 .* p99 .* p99\.9 .* p99\.99 .* max/);
  assert.match(text, /r\.v\s+│\s+100 │\s+1 │\s+50\.5 │\s+50 │\s+90 │\s+99 │\s+100 │\s+100 │\s+100 │/);
  assert.match(text, /empty\s+│\s+0 │\s+- │/);
  assert.match(percentileTable([{ label: 'r.v', summary: h.summary() }], paint(1)), ANSI);
  assert.match(keyValueTable([['rate', '20k/s']], paint(0)), /rate\s+│\s+20k\/s/);
  assert.equal(group(1234567), '1,234,567');
  assert.equal(group(-1000.5), '-1,000.5');
  assert.equal(group(999), '999');
});

// --- stats stage ----------------------------------------------------------------------------------------------------

const recs = (values, from = 1) => values.map((v, i) => new Rec(v, undefined, false, from + i));

function statsStage(cfg = {}) {
  const written = [];
  const clock = { t: 1_000_000 };
  const stage = new StatsStage({
    fields: (cfg.fields ?? []).map((s) => compileExpr(s, '--field expression')),
    latencyFrom: cfg.latencyFrom ? compileExpr(cfg.latencyFrom, '--latency-from expression') : undefined,
    json: cfg.json ?? true,
    everyMs: cfg.everyMs,
    warmupMs: cfg.warmupMs,
    tee: cfg.tee ?? false,
    write: (s) => written.push(s),
    clock: () => clock.t,
    color: 0,
  });
  return { stage, written, clock };
}

test('stats: count, duration, rate and field percentiles over a known input (JSON report)', () => {
  const { stage, written, clock } = statsStage({ fields: ['r.v'] });
  const out = [];
  stage.process(recs([{ v: 1 }, { v: 2 }, { v: 'x' }, {}]), out);
  clock.t += 500;
  stage.process(recs([{ v: 3 }, { v: 4 }, { v: null }, { v: -1 }], 5), out);
  assert.equal(out.length, 0, 'without --tee the stage consumes its input');
  assert.equal(written.length, 0, 'nothing until the end');
  stage.end(out);
  assert.equal(written.length, 1);
  assert.ok(written[0].endsWith('\n') && !written[0].slice(0, -1).includes('\n'));
  assert.deepEqual(JSON.parse(written[0]), {
    count: 8,
    duration_ms: 500,
    rate: 16,
    fields: { 'r.v': { count: 4, negative: 1, min: 1, mean: 2.5, p50: 2, p90: 4, p99: 4, 'p99.9': 4, 'p99.99': 4, max: 4, non_numeric: 3 } },
  });
});

test('stats: latency = now − time, from epoch ms or ISO; future times are negative, bad ones non-numeric', () => {
  const { stage, written, clock } = statsStage({ latencyFrom: 'r.t' });
  clock.t = Date.parse('2026-01-01T00:00:01Z');
  stage.process(recs([
    { t: clock.t - 10 },
    { t: clock.t - 20 },
    { t: '2026-01-01T00:00:00.970Z' }, // 30 ms before now
    { t: String(clock.t - 40) },
    { t: clock.t + 5 }, // ahead of our clock
    { t: 'soon' },
    { t: true },
  ]), []);
  stage.end([]);
  const rep = JSON.parse(written[0]);
  assert.equal(rep.count, 7);
  assert.equal(rep.duration_ms, 0);
  assert.equal(rep.rate, null);
  assert.deepEqual(rep.latency_ms, { from: 'r.t', count: 4, negative: 1, min: 10, mean: 25, p50: 20, p90: 40, p99: 40, 'p99.9': 40, 'p99.99': 40, max: 40, non_numeric: 2 });
});

test('stats --warmup: records of its first span count but stay out of the percentiles; the text report says so', () => {
  const { stage, written, clock } = statsStage({ latencyFrom: 'r.t', fields: ['r.v'], warmupMs: 1000 });
  // start-up: a backlog arriving late
  stage.process(recs([{ t: clock.t - 250, v: 100 }, { t: clock.t - 200, v: 100 }]), []);
  clock.t += 999;
  stage.process(recs([{ t: clock.t - 150, v: 100 }]), []);
  // steady state, from 1000 ms after the first record
  clock.t += 1;
  stage.process(recs([{ t: clock.t - 5, v: 1 }, { t: clock.t - 7, v: 2 }]), []);
  stage.end([]);
  const rep = JSON.parse(written[0]);
  assert.equal(rep.count, 5);
  assert.equal(rep.duration_ms, 1000);
  assert.deepEqual(rep.warmup, { ms: 1000, count: 3 });
  assert.deepEqual([rep.latency_ms.count, rep.latency_ms.min, rep.latency_ms.max], [2, 5, 7]);
  assert.deepEqual([rep.fields['r.v'].count, rep.fields['r.v'].max], [2, 2]);
  const text = statsStage({ latencyFrom: 'r.t', warmupMs: 500, json: false });
  text.stage.process(recs([{ t: text.clock.t - 1 }]), []);
  text.stage.end([]);
  assert.match(text.written[0], /percentiles leave out the first 0\.5 s \(--warmup\): 1 record$/m);
  // --warmup 0 leaves nothing out (the first batch was taken for warm-up)
  const zero = statsStage({ fields: ['r.v'], warmupMs: 0 });
  zero.stage.process(recs([{ v: 1 }, { v: 2 }]), []);
  zero.stage.end([]);
  assert.deepEqual([JSON.parse(zero.written[0]).fields['r.v'].count, JSON.parse(zero.written[0]).warmup.count], [2, 0]);
});

test('stats: toEpochMs accepts numbers, numeric and ISO strings, Dates', () => {
  assert.equal(toEpochMs(5), 5);
  assert.equal(toEpochMs('5'), 5);
  assert.equal(toEpochMs('2026-01-01T00:00:00Z'), 1767225600000);
  assert.equal(toEpochMs(new Date(7)), 7);
  for (const bad of [NaN, Infinity, '', 'x', null, undefined, {}, true]) assert.equal(toEpochMs(bad), undefined);
});

test('stats --tee: records (and control records) pass unchanged; controls are not counted', () => {
  const { stage, written } = statsStage({ tee: true, fields: ['r.v'] });
  const batch = [...recs([{ v: 1 }, { v: 2 }]), Rec.control('$watermark', { ts: 5 })];
  const out = [];
  stage.process(batch, out);
  assert.deepEqual(out, batch);
  assert.ok(out.every((r, i) => r === batch[i]));
  stage.end(out);
  assert.equal(JSON.parse(written[0]).count, 2);
});

test('stats --every: one interval line per period (on batches and ticks), then the total', () => {
  const { stage, written, clock } = statsStage({ fields: ['r.v'], everyMs: 1000 });
  stage.tick(clock.t, []); // no records yet: nothing to report
  assert.equal(written.length, 0);
  stage.process(recs([{ v: 1 }, { v: 2 }]), []); // interval 1 starts at the first record
  clock.t += 400;
  stage.process(recs([{ v: 3 }]), []);
  clock.t += 700; // 1100 ms after the first record
  stage.tick(clock.t, []);
  assert.equal(written.length, 1);
  const i1 = JSON.parse(written[0]);
  assert.deepEqual(
    { interval: i1.interval, elapsed_ms: i1.elapsed_ms, count: i1.count, rate: i1.rate, p50: i1.fields['r.v'].p50, max: i1.fields['r.v'].max },
    { interval: 1, elapsed_ms: 1000, count: 3, rate: 3, p50: 2, max: 3 },
  );
  // A long quiet gap is one line, ending on a period boundary.
  clock.t += 2500; // 3600 ms
  stage.process(recs([{ v: 100 }, { v: 'x' }]), []);
  assert.equal(written.length, 2);
  const i2 = JSON.parse(written[1]);
  assert.deepEqual({ interval: i2.interval, elapsed_ms: i2.elapsed_ms, count: i2.count, rate: i2.rate }, { interval: 2, elapsed_ms: 3000, count: 0, rate: 0 });
  // report() can be read mid-interval without disturbing it.
  assert.equal(stage.report().fields['r.v'].max, 100);
  stage.end([]);
  assert.equal(written.length, 4, 'the last partial interval, then the total');
  const i3 = JSON.parse(written[2]);
  assert.deepEqual({ interval: i3.interval, count: i3.count, max: i3.fields['r.v'].max, nn: i3.fields['r.v'].non_numeric }, { interval: 3, count: 2, max: 100, nn: 1 });
  const total = JSON.parse(written[3]);
  assert.equal(total.count, 5);
  assert.equal(total.duration_ms, 3600);
  assert.deepEqual({ ...total.fields['r.v'] }, { count: 4, negative: 0, min: 1, mean: 26.5, p50: 2, p90: 100, p99: 100, 'p99.9': 100, 'p99.99': 100, max: 100, non_numeric: 1 });
});

test('stats: text report is a count line, a percentile table and notes', () => {
  const { stage, written, clock } = statsStage({ json: false, fields: ['r.v'], latencyFrom: 'r.t' });
  stage.process(recs([{ v: 1, t: clock.t - 2 }, { v: 'x', t: clock.t + 1 }]), []);
  clock.t += 2000;
  stage.process(recs([{ v: 3, t: clock.t - 4 }]), []);
  stage.end([]);
  const text = written.join('');
  assert.doesNotMatch(text, ANSI);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '3 records in 2 s (2 records/s)');
  assert.match(text, /│ r\.v\s+│\s+2 │\s+1 │\s+2 │/);
  assert.match(text, /│ latency ms \(now − r\.t\)\s+│\s+2 │\s+2 │\s+3 │/);
  assert.match(text, /r\.v: 1 non-numeric or missing, not counted/);
  assert.match(text, /latency ms \(now − r\.t\): 1 negative \(timestamps ahead of this clock\), not in the percentiles/);
});

test('stats: an expression that throws on a record counts it as non-numeric', () => {
  const { stage, written } = statsStage({ fields: ['r.a.b'] });
  stage.process(recs([{ a: { b: 2 } }, {}]), []);
  stage.end([]);
  const f = JSON.parse(written[0]).fields['r.a.b'];
  assert.equal(f.count, 1);
  assert.equal(f.non_numeric, 1);
});

test('stats command: options build the stage; reads only the fields the expressions use', () => {
  const ctx = contextFor({ opts: {} }, false, 0);
  const st = stats.stage([], { field: ['r.latency_ms', 'r.bytes'], latencyFrom: 'r.ts', every: '1s', tee: true, json: true }, ctx);
  assert.equal(st.name, 'stats');
  assert.deepEqual([...st.reads].sort(), ['bytes', 'latency_ms', 'ts']);
  assert.equal(st.keepsValue, true);
  assert.equal(stats.stage([], {}, ctx).reads, 'none');
  assert.throws(() => stats.stage([], { every: 'often' }, ctx), (e) => e.exitCode === 2);
  assert.throws(() => stats.stage([], { every: 0 }, ctx), (e) => e.exitCode === 2);
  assert.throws(() => stats.stage([], { field: 'r.a +' }, ctx), (e) => e.exitCode === 2 && /--field/.test(e.message));
});

// --- plot -----------------------------------------------------------------------------------------------------------

test('plot: SVG curve from points or from an HDR summary, text escaped, .html wraps it', async () => {
  const { plotSvg, writePlot, PLOT_PERCENTILES } = await import('../dist/src/report/plot.js');
  const h = new Hdr();
  for (let i = 1; i <= 1000; i++) h.record(i / 10);
  const fromPoints = plotSvg([{ label: 'a <b>', points: PLOT_PERCENTILES.map((q) => [q, h.percentile(q)]) }], 'x & "y"');
  assert.match(fromPoints, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((fromPoints.match(/<circle /g) ?? []).length, PLOT_PERCENTILES.length);
  assert.match(fromPoints, /a &lt;b&gt;/);
  assert.match(fromPoints, /x &amp; &quot;y&quot;/);
  assert.match(fromPoints, />99\.9%</);
  assert.match(fromPoints, />max</);
  const fromSummary = plotSvg([{ label: 's', summary: h.summary() }, { label: 'empty', summary: new Hdr().summary() }], 't');
  assert.equal((fromSummary.match(/<circle /g) ?? []).length, 6);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-plot-')), 'p.html');
  writePlot(file, [{ label: 's', summary: h.summary() }], 't');
  const html = fs.readFileSync(file, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<svg /);
  fs.rmSync(path.dirname(file), { recursive: true });
});
