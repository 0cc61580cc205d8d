import { contextFor } from '../dist/src/pipeline/assemble.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Prng, Zipf, Weighted, uuidV4, detExp, detLog, detPow } from '../dist/src/loadgen/prng.js';
import { PRESETS } from '../dist/src/loadgen/presets.js';
import { compileTemplate } from '../dist/src/loadgen/template.js';
import { createGenerator, DEFAULT_START } from '../dist/src/loadgen/generator.js';
import { Pacer, Schedule } from '../dist/src/loadgen/rate.js';
import { GenSource } from '../dist/src/loadgen/source.js';
import { parseGenOptions, parseStart } from '../dist/src/loadgen/options.js';
import gen from '../dist/commands/gen.js';

const lines = (opts, n) => createGenerator(opts).nextBatch(n).lines;
const isUsage = (re) => (e) => e.exitCode === 2 && re.test(e.message);

/** A clock that only moves when told to, or when the code under test sleeps. */
function fakeClock(wallOrigin = 1767225600000.4) {
  const c = {
    t: 0,
    sleeps: [],
    now: () => c.t,
    wallNow: () => wallOrigin + c.t,
    sleep: async (ms) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

async function collect(source, onBatch) {
  const out = [];
  for await (const b of source.batches()) {
    out.push(b);
    onBatch?.(b);
  }
  return out;
}

// --- PRNG -----------------------------------------------------------------------------------------------------------

test('prng: same seed gives the same sequence, different seeds differ, numeric strings equal numbers', () => {
  const draw = (seed) => { const r = new Prng(seed); return Array.from({ length: 8 }, () => r.next()); };
  assert.deepEqual(draw(1), draw(1));
  assert.notDeepEqual(draw(1), draw(2));
  assert.deepEqual(draw('7'), draw(7));
  assert.notDeepEqual(draw('run-a'), draw('run-b'));
  for (const v of draw(3)) assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
  // Pinned: the algorithm is part of the byte-identical-output promise.
  assert.deepEqual(draw(1).slice(0, 3), [2420951833, 2513034076, 3847892949]);
});

test('prng: int is inclusive and uniform-ish, float in [0,1), bool honours p, pick covers the list', () => {
  const r = new Prng(42);
  const counts = new Map();
  for (let i = 0; i < 60000; i++) {
    const v = r.int(1, 6);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [1, 2, 3, 4, 5, 6]);
  for (const c of counts.values()) assert.ok(c > 9000 && c < 11000, String(c));
  let trues = 0;
  for (let i = 0; i < 10000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
    if (r.bool(0.9)) trues++;
  }
  assert.ok(trues > 8800 && trues < 9200, String(trues));
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add(r.pick(['a', 'b', 'c']));
  assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);
});

test('prng: gaussian has mean 0 and sd 1; lognormal has the requested median', () => {
  const r = new Prng(5);
  let s = 0, s2 = 0;
  const n = 50000;
  for (let i = 0; i < n; i++) { const g = r.gaussian(); s += g; s2 += g * g; }
  assert.ok(Math.abs(s / n) < 0.02);
  assert.ok(Math.abs(Math.sqrt(s2 / n - (s / n) ** 2) - 1) < 0.02);
  const xs = Array.from({ length: 20001 }, () => r.lognormal(40, 0.6)).sort((a, b) => a - b);
  assert.ok(Math.abs(xs[10000] - 40) < 1.5, String(xs[10000]));
});

test('prng: deterministic exp/log/pow agree with Math to ~1e-14', () => {
  for (const x of [-700, -20, -1, -1e-9, 0, 1e-9, 0.5, 1, 2.5, 20, 700]) {
    assert.ok(Math.abs(detExp(x) / Math.exp(x) - 1) < 1e-14, `exp ${x}`);
  }
  for (const x of [1e-300, 1e-9, 0.1, 0.5, 1, 2, Math.E, 10, 1e9, 1e300]) {
    assert.ok(Math.abs(detLog(x) - Math.log(x)) <= 1e-14 * Math.max(1, Math.abs(Math.log(x))), `log ${x}`);
  }
  assert.equal(detLog(1), 0);
  assert.equal(detExp(0), 1);
  assert.ok(Math.abs(detPow(2, 10) - 1024) < 1e-10);
});

test('zipf: rank 0 is the most frequent key and frequencies fall with rank as 1/k^s', () => {
  const z = new Zipf(1000, 1.1);
  const r = new Prng(9);
  const counts = new Array(1000).fill(0);
  for (let i = 0; i < 100000; i++) counts[z.sample(r)]++;
  assert.equal(counts.indexOf(Math.max(...counts)), 0);
  assert.ok(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[9]);
  const ratio = counts[0] / counts[1];
  assert.ok(Math.abs(ratio - 2 ** 1.1) < 0.15, String(ratio));
  // keys stay in range
  assert.ok(counts.reduce((a, b) => a + b) === 100000);
  const u = new Zipf(10, 0); // s = 0 is uniform
  const cu = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) cu[u.sample(r)]++;
  for (const c of cu) assert.ok(c > 1700 && c < 2300);
});

test('weighted: draws follow the weights', () => {
  const w = new Weighted([['a', 3], ['b', 1]]);
  const r = new Prng(1);
  let a = 0;
  for (let i = 0; i < 40000; i++) if (w.sample(r) === 'a') a++;
  assert.ok(a > 29400 && a < 30600, String(a));
});

test('uuid: RFC 4122 version 4 shape, seeded', () => {
  const r1 = new Prng(3), r2 = new Prng(3);
  const u = uuidV4(r1);
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(uuidV4(r2), u);
  assert.notEqual(uuidV4(r1), u);
});

// --- presets --------------------------------------------------------------------------------------------------------

test('presets: field sets, order and types; line is exactly JSON.stringify(value)', () => {
  const types = {
    clicks: { ts: 'number', user: 'string', page: 'string', country: 'string', latency_ms: 'number', bytes: 'number', ok: 'boolean' },
    orders: { ts: 'number', order_id: 'string', customer: 'string', items: 'number', amount: 'number', currency: 'string', status: 'string' },
    iot: { ts: 'number', device: 'string', sensor: 'string', temp: 'number', humidity: 'number', battery: 'number' },
  };
  for (const name of Object.keys(PRESETS)) {
    const b = createGenerator({ preset: name }).nextBatch(500);
    assert.equal(b.lines.length, 500);
    b.values.forEach((v, i) => {
      assert.deepEqual(Object.keys(v), [...PRESETS[name]], name);
      for (const [k, t] of Object.entries(types[name])) assert.equal(typeof v[k], t, `${name}.${k}`);
      assert.equal(JSON.stringify(v), b.lines[i], name);
      assert.deepEqual(JSON.parse(b.lines[i]), v);
    });
  }
});

test('presets: clicks looks like clicks', () => {
  const { values, lines: ls } = createGenerator({ preset: 'clicks', seed: 11 }).nextBatch(20000);
  const avgLen = ls.reduce((a, l) => a + l.length, 0) / ls.length;
  assert.ok(avgLen > 95 && avgLen < 125, `avg ${avgLen} bytes`);
  const lat = values.map((v) => v.latency_ms).sort((a, b) => a - b);
  assert.ok(lat[10000] >= 35 && lat[10000] <= 45, `median ${lat[10000]}`);
  assert.ok(lat.filter((x) => x > 1000).length > 0, 'long tail');
  assert.ok(lat.every((x) => Number.isInteger(x) && x >= 1));
  const ok = values.filter((v) => v.ok).length / values.length;
  assert.ok(ok > 0.96 && ok < 0.98, String(ok));
  assert.ok(values.every((v) => /^u\d+$/.test(v.user) && v.page.startsWith('/') && /^[A-Z]{2}$/.test(v.country)));
  const users = new Map();
  for (const v of values) users.set(v.user, (users.get(v.user) ?? 0) + 1);
  const top = [...users.entries()].sort((a, b) => b[1] - a[1])[0];
  assert.equal(top[0], 'u0');
  assert.ok(new Set(values.map((v) => v.page)).size > 30);
});

test('presets: orders amounts have at most 2 decimals, iot values stay in range', () => {
  for (const v of createGenerator({ preset: 'orders' }).nextBatch(3000).values) {
    assert.ok(v.amount > 0 && Math.round(v.amount * 100) / 100 === v.amount, String(v.amount));
    assert.ok(Number.isInteger(v.items) && v.items >= 1 && v.items <= 8);
    assert.match(v.order_id, /^o\d+$/);
  }
  for (const v of createGenerator({ preset: 'iot' }).nextBatch(3000).values) {
    assert.ok(v.humidity >= 0 && v.humidity <= 100 && v.battery >= 0 && v.battery <= 100);
    assert.equal(Math.round(v.temp * 10) / 10, v.temp);
    assert.ok(!Object.is(v.temp, -0) && !Object.is(v.humidity, -0));
  }
});

test('presets: unknown name is a usage error listing the presets', () => {
  assert.throws(() => createGenerator({ preset: 'click' }), isUsage(/`click`/));
});

// --- determinism ----------------------------------------------------------------------------------------------------

test('generator: same seed twice is byte-identical, a different seed differs', () => {
  for (const preset of Object.keys(PRESETS)) {
    assert.deepEqual(lines({ preset, seed: 7 }, 2000), lines({ preset, seed: 7 }, 2000));
    assert.notDeepEqual(lines({ preset, seed: 7 }, 50), lines({ preset, seed: 8 }, 50));
  }
  // Batch boundaries do not change the output.
  const g = createGenerator({ seed: 3 });
  const split = [...g.nextBatch(7).lines, ...g.nextBatch(993).lines];
  assert.deepEqual(split, lines({ seed: 3 }, 1000));
});

test('generator: pinned output (the same bytes on Node, Bun and Deno, and across releases)', () => {
  const digest = (opts) => createHash('sha256').update(lines(opts, 5000).join('\n')).digest('hex').slice(0, 16);
  assert.equal(lines({ seed: 7 }, 1)[0], GOLDEN_FIRST_CLICK);
  assert.deepEqual(
    { clicks: digest({ preset: 'clicks', seed: 7 }), orders: digest({ preset: 'orders', seed: 7 }), iot: digest({ preset: 'iot', seed: 7 }) },
    GOLDEN_DIGESTS,
  );
});

const GOLDEN_FIRST_CLICK = '{"ts":1767225600000,"user":"u47","page":"/","country":"GB","latency_ms":36,"bytes":5689,"ok":true}';
const GOLDEN_DIGESTS = { clicks: 'ace5fb81f4c2fdac', orders: '07651d4d56067b11', iot: 'df8138f4a4f77bc2' };

test('generator: event time is start + floor(seq * 1000 / eventRate)', () => {
  const v = createGenerator({ eventRate: 3 }).nextBatch(7).values.map((x) => x.ts - DEFAULT_START);
  assert.deepEqual(v, [0, 333, 666, 1000, 1333, 1666, 2000]);
  assert.equal(DEFAULT_START, Date.parse('2026-01-01T00:00:00Z'));
  const s = createGenerator({ start: 5000, eventRate: 1000 }).nextBatch(3).values.map((x) => x.ts);
  assert.deepEqual(s, [5000, 5001, 5002]);
});

test('generator: --disorder moves ts back by up to d, out of order, and changes nothing else', () => {
  const plain = createGenerator({ seed: 4 }).nextBatch(2000).values;
  const dis = createGenerator({ seed: 4, disorder: 50 }).nextBatch(2000).values;
  let outOfOrder = 0;
  dis.forEach((v, i) => {
    const d = plain[i].ts - v.ts;
    assert.ok(d >= 0 && d <= 50, String(d));
    assert.deepEqual({ ...v, ts: 0 }, { ...plain[i], ts: 0 });
    if (i > 0 && v.ts < dis[i - 1].ts) outOfOrder++;
  });
  assert.ok(outOfOrder > 100, String(outOfOrder));
  assert.deepEqual(createGenerator({ seed: 4, disorder: 50 }).nextBatch(2000).values, dis);
});

test('generator: values:false yields lines only', () => {
  const b = createGenerator({ values: false }).nextBatch(3);
  assert.equal(b.values, null);
  assert.equal(b.lines.length, 3);
  assert.equal(b.firstSeq, 0);
});

// --- templates ------------------------------------------------------------------------------------------------------

test('template: whole-value placeholders render JSON values, in-string ones render text', () => {
  const t = compileTemplate('{"seq":{{seq}},"ts":{{ts}},"user":"u{{zipf 100 1.2}}","n":{{int 1 9}},"f":{{float 0 1 2}},"c":{{pick US DE "New York" 7 true}},"s":"{{pick a b}}-{{seq}}","ok":{{bool 0.9}},"id":{{uuid}},"now":{{now}}}');
  assert.deepEqual(t.placeholders, ['seq', 'ts', 'zipf', 'int', 'float', 'pick', 'pick', 'seq', 'bool', 'uuid', 'now']);
  const ls = [];
  const vs = [];
  t.maker(new Prng(1)).make(10, [100, 200, 300, 400], 4, 1234.9, ls, vs);
  assert.equal(ls.length, 4);
  vs.forEach((v, i) => {
    assert.deepEqual(JSON.parse(ls[i]), v);
    assert.equal(v.seq, 10 + i);
    assert.equal(v.ts, 100 * (i + 1));
    assert.equal(v.now, 1234);
    assert.match(v.user, /^u\d{1,2}$/);
    assert.ok(Number.isInteger(v.n) && v.n >= 1 && v.n <= 9);
    assert.match(ls[i], /"f":[01]\.\d\d,/); // always two decimals in the text
    assert.ok(['US', 'DE', 'New York', 7, true].includes(v.c));
    assert.match(v.s, new RegExp(`^[ab]-${10 + i}$`));
    assert.equal(typeof v.ok, 'boolean');
    assert.match(v.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

test('template: in-string picks are escaped, pretty templates become one line', () => {
  // Placeholder arguments are raw template text: a quoted argument is a JSON string literal.
  const t = compileTemplate('{\n  "q": "say {{pick "hi\\"there"}}",\n  "n": {{int 5 5}}\n}\n');
  const ls = [];
  t.maker(new Prng(1)).make(0, [0], 1, 0, ls, null);
  assert.equal(ls[0], '{"q": "say hi\\"there","n": 5}');
  assert.deepEqual(JSON.parse(ls[0]), { q: 'say hi"there', n: 5 });
});

test('template: float decimals are exact and inclusive; float without decimals is full precision', () => {
  const t = compileTemplate('[{{float 0.5 0.6 1}}, {{float -1 1 3}}, {{float 0 1}}]');
  const ls = [];
  t.maker(new Prng(2)).make(0, new Array(500).fill(0), 500, 0, ls, null);
  const firsts = new Set();
  for (const l of ls) {
    const [a, b, c] = JSON.parse(l);
    firsts.add(a);
    assert.ok(b >= -1 && b <= 1 && c >= 0 && c < 1);
    assert.match(l, /^\[0\.[56], -?\d\.\d{3}, /);
  }
  assert.deepEqual([...firsts].sort(), [0.5, 0.6]);
});

test('template: same seed renders the same bytes through the generator', () => {
  const template = '{"id":"{{uuid}}","k":{{zipf 1000 1.1}},"v":{{float 0 100 2}}}';
  assert.deepEqual(lines({ template, seed: 'x' }, 300), lines({ template, seed: 'x' }, 300));
  assert.notDeepEqual(lines({ template, seed: 'x' }, 30), lines({ template, seed: 'y' }, 30));
});

test('template: errors are usage errors naming the problem', () => {
  assert.throws(() => compileTemplate('{"a":{{foo 1}}}'), isUsage(/unknown template placeholder `\{\{foo 1\}\}`/));
  assert.throws(() => compileTemplate('{"a":{{int 1}}}'), isUsage(/int/));
  assert.throws(() => compileTemplate('{"a":{{int 9 1}}}'), isUsage(/upper bound/));
  assert.throws(() => compileTemplate('{"a":{{int x 1}}}'), isUsage(/`x`/));
  assert.throws(() => compileTemplate('{"a":{{zipf 0 1}}}'), isUsage(/zipf/));
  assert.throws(() => compileTemplate('{"a":{{bool 2}}}'), isUsage(/probability/));
  assert.throws(() => compileTemplate('{"a":{{seq 1}}}'), isUsage(/no arguments/));
  assert.throws(() => compileTemplate('{"a":{{pick}}}'), isUsage(/at least one/));
  assert.throws(() => compileTemplate('{"a":{{seq}'), isUsage(/unterminated/));
  assert.throws(() => compileTemplate('{"a":{{seq}},}'), isUsage(/does not render valid JSON/));
  assert.throws(() => compileTemplate('{"a":u{{seq}}}'), isUsage(/does not render valid JSON/));
});

// --- pacing ---------------------------------------------------------------------------------------------------------

test('schedule: intended times and due counts', () => {
  const s = new Schedule(4);
  assert.deepEqual([0, 1, 2, 3].map((i) => s.intendedTime(i)), [0, 250, 500, 750]);
  assert.equal(s.dueCount(-1), 0);
  assert.equal(s.dueCount(0), 1);
  assert.equal(s.dueCount(249), 1);
  assert.equal(s.dueCount(250), 2);
  assert.equal(s.dueCount(1000), 5);
});

test('pacer: releases what is due in batches, sleeping per batch, never per record', async () => {
  const clock = fakeClock();
  const src = new GenSource({ rate: 100_000, count: 10_000, clock });
  const batches = await collect(src);
  assert.equal(batches.reduce((a, b) => a + b.length, 0), 10_000);
  assert.ok(clock.sleeps.length <= 101, `${clock.sleeps.length} sleeps`);
  assert.ok(batches.length < 120 && batches.some((b) => b.length >= 99));
  assert.ok(clock.t >= 99 && clock.t <= 101, `took ${clock.t} ms`);
  assert.deepEqual(src.counters(), {});
});

test('pacer: a slow consumer gets the backlog at once and the late records are counted', async () => {
  const clock = fakeClock();
  const src = new GenSource({ rate: 1000, count: 300, clock, batchSize: 4096 });
  // Every batch takes the consumer 50 ms: records pile up and go out late, in catch-up batches.
  const batches = await collect(src, () => (clock.t += 50));
  assert.equal(batches.reduce((a, b) => a + b.length, 0), 300);
  const c = src.counters();
  assert.ok(c.behind_schedule > 200, JSON.stringify(c));
  assert.ok(c.max_behind_ms >= 45, JSON.stringify(c));
  assert.ok(batches.slice(1).every((b) => b.length >= 40), batches.map((b) => b.length).join(','));
});

test('pacer: late counting is exact on a hand-made schedule', async () => {
  const clock = fakeClock();
  const p = new Pacer(new Schedule(1000), clock, 0);
  clock.t = 10; // records 0..10 are due; those intended before 9 ms (0..8) are more than 1 ms late
  assert.equal(await p.due(0, 100), 11);
  assert.equal(p.late, 9);
  assert.equal(p.maxBehindMs, 10);
  assert.equal(await p.due(11, 100), 1); // sleeps 1 ms until record 11 is due
  assert.equal(clock.t, 11);
  assert.equal(p.late, 9);
});

test('paced source: ts is the intended send time on a whole-ms schedule unless --start is given', async () => {
  const clock = fakeClock(1767225600000.4);
  const src = new GenSource({ rate: 2000, count: 6, clock, scheduleTs: true });
  const ts = (await collect(src)).flat().map((r) => r.value.ts);
  const start = 1767225600001; // ceil of the wall clock at start
  assert.deepEqual(ts, [0, 0, 1, 1, 2, 2].map((d) => start + d));

  const fixed = new GenSource({ rate: 2000, count: 3, clock: fakeClock(), start: 0, scheduleTs: false });
  assert.deepEqual((await collect(fixed)).flat().map((r) => r.value.ts), [0, 1, 2]);
});

test('paced source: --duration with --rate gives exactly rate × duration records', async () => {
  const src = new GenSource({ rate: 5000, durationMs: 1000, clock: fakeClock() });
  assert.equal((await collect(src)).flat().length, 5000);
});

test('unpaced source: --count, --duration by clock, batches of Recs with raw lines and positions', async () => {
  const clock = fakeClock();
  const src = new GenSource({ count: 5000, batchSize: 2048, clock });
  const batches = await collect(src);
  assert.deepEqual(batches.map((b) => b.length), [2048, 2048, 904]);
  const recs = batches.flat();
  assert.deepEqual(recs.map((r) => r.pos).slice(0, 3), [0, 1, 2]);
  assert.equal(recs[4999].pos, 4999);
  for (const r of recs.slice(0, 50)) {
    assert.equal(r.raw, JSON.stringify(r.value));
    assert.equal(r.partial, false);
  }
  assert.equal(recs[7].where(), 'gen record 7');
  assert.equal(src.generated, 5000);

  const timed = new GenSource({ durationMs: 30, batchSize: 10, clock });
  const got = await collect(timed, () => (clock.t += 10));
  assert.equal(got.length, 3);
});

test('source: close() ends a paced run that is waiting', async () => {
  let wake;
  const clock = { now: () => 0, wallNow: () => 0, sleep: (_ms, signal) => new Promise((r) => { wake = r; signal?.addEventListener('abort', r); }) };
  const src = new GenSource({ rate: 1, clock });
  const it = src.batches()[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.length, 1); // record 0 is due at once
  const pending = it.next();
  await new Promise((r) => setImmediate(r));
  assert.ok(wake, 'waiting for record 1');
  await src.close();
  assert.equal((await pending).done, true);
});

// --- options --------------------------------------------------------------------------------------------------------

test('options: flags parse, ts follows the schedule only with --rate and no --start/--event-rate', () => {
  const o = parseGenOptions({ rate: '20k', duration: '30s', count: '1k', seed: 'abc', disorder: '2s' });
  assert.deepEqual(
    { ...o },
    { preset: 'clicks', count: 1000, durationMs: 30000, rate: 20000, seed: 'abc', disorder: 2000, scheduleTs: true },
  );
  assert.equal(parseGenOptions({ rate: 100, start: '2026-01-01T00:00:00Z' }).scheduleTs, false);
  assert.equal(parseGenOptions({ rate: 100, eventRate: '1k' }).scheduleTs, false);
  assert.equal(parseGenOptions({}).scheduleTs, false);
  assert.equal(parseGenOptions({ template: '@t.json' }, (p) => `{"f":"${p}"}`).template, '{"f":"t.json"}');
  assert.throws(() => parseGenOptions({ template: '{}', preset: 'iot' }), isUsage(/--preset/));
  assert.throws(() => parseGenOptions({ template: '@nope' }, () => { throw new Error('ENOENT'); }), isUsage(/`nope`/));
  assert.throws(() => parseGenOptions({ rate: 'fast' }), (e) => e.exitCode === 2);
  assert.throws(() => parseGenOptions({ rate: 0 }), isUsage(/--rate/));
  assert.throws(() => parseGenOptions({ count: 'lots' }), isUsage(/--count/));
});

test('options: --start takes ISO, epoch ms or now', () => {
  assert.equal(parseStart('2026-01-01T00:00:00Z'), 1767225600000);
  assert.equal(parseStart(1767225600000), 1767225600000);
  assert.equal(parseStart('1767225600000'), 1767225600000);
  assert.equal(parseStart('now', () => 42.7), 42);
  assert.throws(() => parseStart('yesterday'), isUsage(/--start/));
});

test('gen command: builds a source from flags', async () => {
  assert.equal(gen.name, 'gen');
  assert.ok(gen.examples.includes('kstream gen --preset clicks --count 1000 --seed 7'));
  const src = gen.source([], { count: 3, seed: 7, preset: 'orders' }, contextFor({ opts: {} }, false, 0));
  const recs = (await collect(src)).flat();
  assert.deepEqual(recs.map((r) => r.raw), lines({ preset: 'orders', seed: 7 }, 3));
});
