// gen and stats through the built CLI, as a user runs them: seeded determinism, templates, usage errors, pacing
// by --rate, stats numbers against a reference computed here from gen's own output, --tee, and latency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lines, piped, runSync, start } from './helpers/spawn.mjs';

const CLICK_FIELDS = ['ts', 'user', 'page', 'country', 'latency_ms', 'bytes', 'ok'];
const START = Date.UTC(2026, 0, 1);

function ok(res) {
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

/** Exactly one line on stderr, prefixed like every kstream error, and nothing on stdout. */
function usageError(res, pattern) {
  assert.equal(res.code, 2, res.stderr);
  assert.equal(res.stdout, '');
  const errLines = res.stderr.split('\n').filter((l) => l.length);
  assert.equal(errLines.length, 1, res.stderr);
  assert.match(errLines[0], /^kstream: /);
  assert.match(errLines[0], pattern);
  assert.doesNotMatch(res.stderr, /\n\s+at /);
}

/** Nearest-rank percentile of sorted values (integer arithmetic: 99.9 / 100 * 5000 is 4995.000000000001 in floats). */
const rank = (sorted, p) => sorted[Math.max(0, Math.ceil((Math.round(p * 1000) * sorted.length) / 100_000) - 1)];

test('gen: same seed, same 1000 clicks on every run; another seed differs', () => {
  const args = ['gen', '--preset', 'clicks', '--count', '1000', '--seed', '7'];
  const a = ok(runSync(args));
  const b = ok(runSync(args));
  assert.equal(a, b);
  const recs = lines(a);
  assert.equal(recs.length, 1000);
  assert.ok(a.endsWith('}\n'));
  recs.forEach((r, i) => {
    assert.deepEqual(Object.keys(r), CLICK_FIELDS);
    // Without --rate, event time starts at 2026-01-01 and advances 1 ms per record (--event-rate 1000).
    assert.equal(r.ts, START + i);
    assert.match(r.user, /^u\d+$/);
    assert.equal(typeof r.ok, 'boolean');
    assert.ok(Number.isInteger(r.latency_ms) && r.latency_ms >= 1);
  });
  const c = ok(runSync(['gen', '--preset', 'clicks', '--count', '1000', '--seed', '8']));
  assert.notEqual(c, a);
  const cr = lines(c);
  assert.equal(cr.length, 1000);
  // Same shape and times, different draws.
  assert.deepEqual(cr.map((r) => r.ts), recs.map((r) => r.ts));
  assert.ok(cr.filter((r, i) => r.user !== recs[i].user).length > 500);
  // --count 10k reads as 10000; a shorter run is a prefix of a longer one with the same seed.
  assert.ok(a.startsWith(ok(runSync(['gen', '--count', '10', '--seed', '7']))));
});

test('gen --template: every placeholder renders as documented, seeded; @file reads the template', () => {
  const tpl = '{"id":"{{uuid}}","seq":{{seq}},"ts":{{ts}},"user":"u{{zipf 100 1.2}}","rank":{{zipf 100 1.2}},"n":{{int 1 9}},'
    + '"c":{{pick US DE FR}},"label":"{{pick a b}}-{{seq}}","f":{{float 0 1 2}},"b":{{bool 0.5}},"now":{{now}}}';
  const args = ['gen', '--count', '2000', '--seed', 'abc', '--template', tpl];
  const before = Date.now();
  const out = ok(runSync(args));
  const after = Date.now();
  const recs = lines(out);
  // Two decimals exactly as written: {{float 0 1 2}} prints a fixed number of digits.
  for (const l of out.trim().split('\n')) assert.match(l, /"f":[01]\.\d\d,/);
  assert.equal(recs.length, 2000);
  const ranks = new Map();
  recs.forEach((r, i) => {
    assert.deepEqual(Object.keys(r), ['id', 'seq', 'ts', 'user', 'rank', 'n', 'c', 'label', 'f', 'b', 'now']);
    assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(r.seq, i);
    assert.equal(r.ts, START + i);
    assert.match(r.user, /^u\d+$/);
    assert.ok(Number(r.user.slice(1)) < 100);
    assert.ok(Number.isInteger(r.rank) && r.rank >= 0 && r.rank < 100);
    ranks.set(r.rank, (ranks.get(r.rank) ?? 0) + 1);
    assert.ok(Number.isInteger(r.n) && r.n >= 1 && r.n <= 9);
    assert.ok(['US', 'DE', 'FR'].includes(r.c));
    assert.match(r.label, new RegExp(`^[ab]-${i}$`));
    assert.ok(r.f >= 0 && r.f <= 1);
    assert.equal(typeof r.b, 'boolean');
    assert.ok(r.now >= before - 1000 && r.now <= after + 1000, `now ${r.now}`);
  });
  // Zipf: the first key is the most frequent; every int and pick value shows up.
  const top = [...ranks].sort((x, y) => y[1] - x[1])[0][0];
  assert.equal(top, 0);
  assert.equal(new Set(recs.map((r) => r.n)).size, 9);
  assert.equal(new Set(recs.map((r) => r.c)).size, 3);
  const trues = recs.filter((r) => r.b).length;
  assert.ok(trues > 800 && trues < 1200, `bool 0.5 gave ${trues} of 2000`);
  // Seeded: the same run again differs only in {{now}}.
  const strip = (text) => lines(text).map(({ now, ...rest }) => rest);
  assert.deepEqual(strip(ok(runSync(args))), strip(out));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-gen-'));
  const file = path.join(dir, 'tpl.json');
  // A pretty-printed template file becomes one line per record.
  fs.writeFileSync(file, '{\n  "k": "k{{int 1 3}}",\n  "v": {{int 10 20}}\n}\n');
  const fromFile = lines(ok(runSync(['gen', '--count', '50', '--template', '@' + file])));
  assert.equal(fromFile.length, 50);
  for (const r of fromFile) {
    assert.deepEqual(Object.keys(r), ['k', 'v']);
    assert.match(r.k, /^k[123]$/);
    assert.ok(r.v >= 10 && r.v <= 20);
  }
  fs.rmSync(dir, { recursive: true });
});

test('gen: bad preset, bad template placeholder and bad template JSON are usage errors, one line, exit 2', () => {
  usageError(runSync(['gen', '--preset', 'clickz', '--count', '1']), /unknown preset `clickz`.*clicks, orders, iot/);
  usageError(runSync(['gen', '--count', '1', '--template', '{"a":{{rand 1 2}}}']), /unknown template placeholder `\{\{rand 1 2\}\}`/);
  usageError(runSync(['gen', '--count', '1', '--template', '{"a":{{int 9 1}}}']), /`\{\{int 9 1\}\}`: upper bound below lower bound/);
  usageError(runSync(['gen', '--count', '1', '--template', '{"a":{{int x 1}}}']), /`x` is not a valid integer lower bound/);
  usageError(runSync(['gen', '--count', '1', '--template', '{"a":{{seq}']), /unterminated template placeholder/);
  usageError(runSync(['gen', '--count', '1', '--template', '{"a":u{{seq}}}']), /does not render valid JSON/);
  usageError(runSync(['gen', '--count', '1', '--preset', 'iot', '--template', '{"a":1}']), /`--preset` and `--template` both given/);
  usageError(runSync(['gen', '--count', '1', '--template', '@/nonexistent/tpl.json']), /cannot read template file `\/nonexistent\/tpl\.json`/);
  usageError(runSync(['gen', '--rate', 'fast']), /invalid --rate `fast`/);
});

/** Runs the CLI and notes when each stdout chunk arrived (this process reads as data comes, unlike a pipe to a
 * second process that may still be starting up). */
async function timedRun(args) {
  const t0 = Date.now();
  // stdout read here (collect: false), each chunk with its arrival time
  const p = start(args, { stdin: 'ignore', collect: false, group: false });
  const chunks = [];
  const at = [];
  p.child.stdout.on('data', (d) => { chunks.push(d); at.push(Date.now()); });
  const { code, stderr } = await p.exited;
  return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr, t0, wall: Date.now() - t0, spread: at.length ? at[at.length - 1] - at[0] : 0 };
}

test('gen --rate paces by schedule: 400 records at 2000/s take about 200 ms and all arrive', async () => {
  const res = await timedRun(['gen', '--rate', '2000', '--count', '400']);
  const recs = lines(ok(res));
  assert.equal(recs.length, 400);
  // The schedule spans 399 / 2000 s. Generous bounds: this checks that pacing exists, not its precision — flat out,
  // 400 records come in one write within a millisecond.
  assert.ok(res.wall >= 150, `gen --rate 2000 --count 400 took ${res.wall} ms`);
  assert.ok(res.spread >= 50, `records arrived over ${res.spread} ms`);
  assert.ok(res.wall < 30_000);
  // With --rate, ts is each record's intended send time: 0.5 ms apart, on the wall clock.
  const span = recs[399].ts - recs[0].ts;
  assert.ok(span >= 199 && span <= 200, `intended times span ${span} ms`);
  assert.ok(Math.abs(recs[0].ts - res.t0) < 10_000);
  for (let i = 1; i < recs.length; i++) assert.ok(recs[i].ts >= recs[i - 1].ts);
});

test('stats --field --json: count, min, max, mean and percentiles agree with the records gen wrote', () => {
  const input = ok(runSync(['gen', '--preset', 'clicks', '--count', '5000', '--seed', '3']));
  const values = lines(input).map((r) => r.latency_ms);
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;

  const res = runSync(['stats', '--field', 'r.latency_ms', '--field', 'r.country', '--json'], input);
  const rep = JSON.parse(ok(res));
  assert.equal(res.stdout.trim().split('\n').length, 1);
  assert.equal(rep.count, 5000);
  assert.ok(rep.duration_ms >= 0);
  const f = rep.fields['r.latency_ms'];
  assert.equal(f.count, 5000);
  assert.equal(f.non_numeric, 0);
  assert.equal(f.negative, 0);
  assert.equal(f.min, sorted[0]);
  assert.equal(f.max, sorted[sorted.length - 1]);
  assert.ok(Math.abs(f.mean - mean) <= 0.0005 + 1e-9, `mean ${f.mean} vs ${mean}`);
  // HDR with 3 significant digits: within 0.1% of the exact nearest-rank percentile.
  for (const [key, p] of [['p50', 50], ['p90', 90], ['p99', 99], ['p99.9', 99.9]]) {
    const want = rank(sorted, p);
    assert.ok(Math.abs(f[key] - want) <= want * 0.001, `${key}: ${f[key]} vs ${want}`);
  }
  // A field that is not a number is counted, not failed.
  assert.deepEqual(rep.fields['r.country'], { ...rep.fields['r.country'], count: 0, non_numeric: 5000 });

  // The same numbers fused after gen (duration and rate aside).
  const fused = JSON.parse(ok(runSync(['gen', '--preset', 'clicks', '--count', '5000', '--seed', '3', '+', 'stats', '--field', 'r.latency_ms', '--json'])));
  assert.deepEqual(fused.fields['r.latency_ms'], f);
  assert.equal(fused.count, 5000);
});

test('stats without --tee: the report is the only output, on stdout; a table by default', () => {
  const input = ok(runSync(['gen', '--count', '300', '--seed', '2']));
  const res = runSync(['stats', '--field', 'r.bytes'], input);
  const out = ok(res);
  assert.doesNotMatch(out, /"user"/);
  assert.match(out, /^300 records in /);
  assert.match(out, /│ r\.bytes\s+│\s+300 │/);
  const header = out.split('\n').find((l) => l.includes('count')).split('│').map((c) => c.trim()).filter(Boolean);
  assert.deepEqual(header, ['count', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'max']);
  assert.doesNotMatch(res.stderr, /r\.bytes/);
});

test('stats --tee: records pass through byte for byte, the report goes to stderr', async () => {
  // Odd spacing, a non-object value and a control line: all forwarded as written.
  const gen = ok(runSync(['gen', '--count', '1000', '--seed', '4']));
  const input = gen + '{ "latency_ms" : 5 }\n7\n{"$kstream":{"watermark":1767225600999}}\n';
  const res = runSync(['stats', '--tee', '--field', 'r.latency_ms', '--json'], input);
  assert.equal(ok(res), input);
  const rep = JSON.parse(res.stderr.split('\n').find((l) => l.startsWith('{')));
  assert.equal(rep.count, 1002); // control lines are not records
  assert.equal(rep.fields['r.latency_ms'].count, 1001);
  assert.equal(rep.fields['r.latency_ms'].non_numeric, 1);
  // In the middle of a pipe, piped and fused alike.
  const stages = [['stats', '--tee', '--field', 'r.latency_ms'], ['filter', 'r.ok']];
  const p = await piped(stages, gen);
  const fused = runSync([...stages[0], '+', ...stages[1]], gen);
  const want = lines(gen).filter((r) => r.ok).map((r) => JSON.stringify(r) + '\n').join('');
  assert.equal(p.stdout, want);
  assert.equal(ok(fused), want);
  assert.match(p.stderr[0], /^1,000 records in /m);
  assert.match(fused.stderr, /^1,000 records in /m);
});

test('stats --latency-from r.ts after gen --rate: one latency per record, from the intended send time', async () => {
  const p = await piped([['gen', '--rate', '2000', '--count', '400'], ['stats', '--latency-from', 'r.ts', '--json']]);
  assert.deepEqual(p.codes, [0, 0], p.stderr.join(''));
  const rep = JSON.parse(p.stdout);
  assert.equal(rep.count, 400);
  const lat = rep.latency_ms;
  assert.equal(lat.from, 'r.ts');
  assert.equal(lat.non_numeric, 0);
  // Each record's latency is counted: recorded, or counted as negative had a clock stepped.
  assert.equal(lat.count + lat.negative, 400);
  assert.ok(lat.count >= 390, JSON.stringify(lat));
  assert.ok(lat.min >= 0 && lat.min <= lat.p50 && lat.p50 <= lat.p99 && lat.p99 <= lat.max, JSON.stringify(lat));
  // A local pipe delivers within seconds even on a loaded machine.
  assert.ok(lat.max < 10_000, JSON.stringify(lat));

  // Fused, and with an ISO time: the same summary shape.
  const iso = runSync(['gen', '--rate', '2000', '--count', '200', '+', 'map', '({t: new Date(r.ts).toISOString()})', '+', 'stats', '--latency-from', 'r.t', '--json']);
  const rep2 = JSON.parse(ok(iso));
  assert.equal(rep2.count, 200);
  assert.equal(rep2.latency_ms.count + rep2.latency_ms.negative, 200);
  assert.equal(rep2.latency_ms.non_numeric, 0);
});
