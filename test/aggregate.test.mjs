// The aggregate stage and its functions: parsing and naming, each function, mergeable states, emission modes,
// session retractions, keys, ordering, state release, and parity of a piped hand-over with a fused one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rec, encodeValue } from '../dist/src/pipeline/record.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';
import { RuntimeError, UsageError } from '../dist/src/pipeline/errors.js';
import { NdjsonDecoder } from '../dist/src/codec/ndjson.js';
import { Chain } from '../dist/src/pipeline/chain.js';
import { buildPlan, outputName, parseAggCalls } from '../dist/src/operators/aggfns.js';
import { makeAggregate, makeWindow, drive, rec, data, win } from './helpers/windowing.mjs';

/** Rolling aggregate over values, one batch; returns the data outputs. */
function rolling(fns, values, opts = {}, onError = 'fail') {
  const agg = makeAggregate(fns, opts, onError);
  const out = [];
  agg.process(values.map((v, i) => (v instanceof Rec ? v : rec(v, i + 1))), out);
  agg.end(out);
  return { agg, out: data(out), recs: out };
}
const last = (fns, values) => rolling(fns, values, { emit: 'end' }).out[0];

test('parsing: joined words, as, nested parens and commas, whitespace', () => {
  const calls = parseAggCalls(['count', 'avg(r.latency_ms)', 'p99(r.latency_ms)', 'as', 'lat', 'topk(f(r.a, ")"), 3)', 'sum( r.x[0] ) as s,max(r.y)']);
  assert.deepEqual(calls.map((c) => [c.fn, c.args, c.alias]), [
    ['count', [], undefined],
    ['avg', ['r.latency_ms'], undefined],
    ['p99', ['r.latency_ms'], 'lat'],
    ['topk', ['f(r.a, ")")', '3'], undefined],
    ['sum', ['r.x[0]'], 's'],
    ['max', ['r.y'], undefined],
  ]);
  assert.deepEqual(parseAggCalls(['count as n'])[0].alias, 'n');
  assert.deepEqual(parseAggCalls(['count()'])[0].args, []);
});

test('output names: fn, fn_field from the last property, sanitized expressions, percentiles', () => {
  assert.equal(outputName('count', []), 'count');
  assert.equal(outputName('avg', ['r.latency_ms']), 'avg_latency_ms');
  assert.equal(outputName('max', ['r.a.b']), 'max_b');
  assert.equal(outputName('max', ['r?.a?.b']), 'max_b');
  assert.equal(outputName('sum', ['r']), 'sum');
  assert.equal(outputName('sum', ["r['x-y']"]), 'sum_x-y');
  assert.equal(outputName('avg', ['r.a * 2']), 'avg_a_2');
  assert.equal(outputName('avg', ['r.a + r.b']), 'avg_a_b');
  assert.equal(outputName('p99.9', ['r.ms']), 'p99_9_ms');
  assert.equal(outputName('topk', ['r.page', '3']), 'topk_page');
  const plan = buildPlan(parseAggCalls(['p50(r.ms)', 'p99(r.ms) as slow', 'count(r.ms)', 'avg(r.ms)']));
  assert.deepEqual(plan.outputs.map((o) => o.name), ['p50_ms', 'slow', 'count_ms', 'avg_ms']);
  assert.deepEqual(plan.args, ['r.ms'], 'one evaluation per distinct expression');
  assert.equal(plan.slots.filter((s) => s.kind === 'hdr').length, 1, 'p50 and p99 of one expression share a histogram');
});

test('usage errors: unknown function with a hint, arguments, names', () => {
  const bad = [
    [['mean(r.x)'], /unknown aggregate function `mean`.*did you mean `avg`/s],
    [['summ(r.x)'], /unknown aggregate function `summ`.*functions: count/s],
    [['sum'], /`sum` takes one argument/],
    [['sum(r.a, r.b)'], /`sum` takes one argument/],
    [['topk(r.page)'], /`topk` takes 2 arguments/],
    [['topk(r.page, 0)'], /n must be a whole number >= 1/],
    [['p101(r.x)'], /percentile must be between 0 and 100/],
    [['avg(r.x', ')'], /./],
    [['avg(r.x'], /unbalanced parentheses/],
    [['avg(r.a.x)', 'avg(r.b.x)'], /two aggregates are named `avg_x`.*as/s],
    [['count as key'], /output name `key` is reserved/],
    [['sum(r.x +)'], /invalid aggregate argument `r\.x \+`/],
    [[], /missing aggregate function/],
  ];
  for (const [args, re] of bad) {
    let err;
    try {
      makeAggregate(args);
    } catch (e) {
      err = e;
    }
    if (args[0] === 'avg(r.x' && args[1] === ')') {
      assert.equal(err, undefined, 'split words are joined: avg(r.x ) is fine');
      continue;
    }
    assert.ok(err instanceof UsageError && re.test(err.message + ' ' + err.hint), `${args}: ${err?.message}`);
  }
  assert.throws(() => makeAggregate(['count'], { emit: 'sometimes' }), /invalid --emit `sometimes`/);
});

test('count, count(expr), sum, min, max, avg: nulls skipped by all but count', () => {
  const vals = [{ v: 3 }, { v: null }, {}, { v: '4.5' }, { v: -1 }];
  assert.deepEqual(last(['count', 'count(r.v)', 'sum(r.v)', 'min(r.v)', 'max(r.v)', 'avg(r.v)'], vals), {
    count: 5, count_v: 3, sum_v: 6.5, min_v: -1, max_v: 4.5, avg_v: 6.5 / 3, emit: 'end',
  });
  assert.deepEqual(last(['count', 'sum(r.v)', 'min(r.v)', 'max(r.v)', 'avg(r.v)', 'first(r.v)', 'stddev(r.v)', 'p50(r.v)', 'distinct(r.v)', 'topk(r.v, 2)'], [{}]), {
    count: 1, sum_v: 0, min_v: null, max_v: null, avg_v: null, first_v: null, stddev_v: null, p50_v: null, distinct_v: 0, topk_v: [], emit: 'end',
  });
});

test('first and last go by event time; arrival breaks ties', () => {
  const at = (v, t) => rec({ v }, 1, t);
  assert.deepEqual(last(['first(r.v)', 'last(r.v)'], [at('b', 20), at('a', 10), at('c', 30), at('a2', 10), at('c2', 30), at('m', 15)]), {
    first_v: 'a', last_v: 'c2', emit: 'end',
  });
  // Without any time, arrival order alone.
  assert.deepEqual(last(['first(r.v)', 'last(r.v)'], [{ v: 1 }, { v: null }, { v: 2 }, { v: 3 }, {}]), { first_v: 1, last_v: 3, emit: 'end' });
  // In windows, by @time.
  const r = drive(makeWindow(['tumbling', '100'], { time: 'r.t', grace: '50' }), makeAggregate(['first(r.v)', 'last(r.v)']), [{ v: 'x', t: 50 }, { v: 'y', t: 20 }, { v: 'z', t: 40 }]);
  assert.deepEqual(r.all, [{ window: win(0, 100), first_v: 'y', last_v: 'x', emit: 'final' }]);
});

test('distinct is exact; 1 and "1" differ; objects by content', () => {
  assert.equal(last(['distinct(r.v)'], [1, '1', 1, 2, { a: 1 }, { a: 1 }, [1], true, true, null].map((v) => ({ v }))).distinct_v, 6);
  const many = Array.from({ length: 5000 }, (_, i) => ({ v: i % 1234 }));
  assert.equal(last(['distinct(r.v)'], many).distinct_v, 1234);
});

test('stddev is the population standard deviation', () => {
  const r = last(['stddev(r.v)'], [2, 4, 4, 4, 5, 5, 7, 9].map((v) => ({ v })));
  assert.equal(r.stddev_v, 2);
  assert.equal(last(['stddev(r.v)'], [{ v: 5 }]).stddev_v, 0);
  const big = last(['stddev(r.v)'], [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16].map((v) => ({ v })));
  assert.ok(Math.abs(big.stddev_v - Math.sqrt(22.5)) < 1e-6);
});

test('topk: most frequent first, ties by value text, n limits', () => {
  const vals = ['/b', '/a', '/c', '/a', '/b', '/d', '/a', '/c'].map((p) => ({ p }));
  assert.deepEqual(last(['topk(r.p, 3) as top'], vals).top, [
    { value: '/a', count: 3 }, { value: '/b', count: 2 }, { value: '/c', count: 2 },
  ]);
});

test('percentiles: fixed point like stats (sub-unit values), extremes exact, negatives left out and counted', () => {
  assert.deepEqual(last(['p50(r.v)', 'p100(r.v)', 'p0(r.v)'], [0.25, 0.5, 0.75, 1.25].map((v) => ({ v }))), { p50_v: 0.5, p100_v: 1.25, p0_v: 0.25, emit: 'end' });
  const { agg, out } = rolling(['p50(r.v)', 'count'], [{ v: -3 }, { v: 10 }, { v: 20 }, { v: 30 }], { emit: 'end' });
  assert.deepEqual(out, [{ p50_v: 20, count: 4, emit: 'end' }]);
  assert.equal(agg.counters()['not-recordable'], 1);
  // Large values: three significant digits.
  const p = last(['p99(r.v)'], Array.from({ length: 100 }, (_, i) => ({ v: (i + 1) * 1_000_003 }))).p99_v;
  assert.ok(Math.abs(p - 99_000_297) / 99_000_297 < 0.001, String(p));
});

test('bad values: skipped and counted, or the run fails naming the record', () => {
  const { agg, out } = rolling(['sum(r.v)'], [{ v: 1 }, { v: 'abc' }, { v: { x: 1 } }, { v: 2 }], { emit: 'end' }, 'skip');
  assert.deepEqual(out, [{ sum_v: 3, emit: 'end' }]);
  assert.deepEqual(agg.counters(), { skipped: 2 });
  assert.throws(
    () => rolling(['count', 'sum(r.v)'], [{ v: 1 }, { v: 'abc' }]),
    (e) => e instanceof RuntimeError && /record 2: `sum\(r\.v\)`: "abc" is not a number/.test(e.message),
  );
  assert.throws(() => rolling(['sum(r.v.w.x)'], [{ v: 1 }]), /record 1: aggregate argument `r\.v\.w\.x` threw TypeError/);
  // A bad record changes nothing, not even the functions that could take it.
  const s = rolling(['count', 'sum(r.v)'], [{ v: 1 }, { v: 'x' }], { emit: 'end' }, 'skip');
  assert.deepEqual(s.out, [{ count: 1, sum_v: 1, emit: 'end' }]);
});

test('every function merges: split halves merged = all at once', () => {
  const plan = buildPlan(parseAggCalls(['count as n', 'count(r)', 'sum(r)', 'min(r)', 'max(r)', 'avg(r)', 'first(r)', 'last(r)', 'distinct(r)', 'stddev(r)', 'p90(r)', 'topk(r, 3)', 'median(r)']));
  assert.deepEqual(plan.slots.map((s) => s.kind), ['count', 'countv', 'sum', 'min', 'max', 'avg', 'first', 'last', 'distinct', 'stddev', 'hdr', 'freq'], 'median shares p90\'s histogram');
  const vals = [5, 3, 9, 3, 7, 1, 9, 9, 2, 8, 4];
  for (const out of plan.outputs) {
    const fn = plan.slots[out.slot].fn;
    const feed = (from, to) => {
      let s = fn.init();
      for (let i = from; i < to; i++) s = fn.add(s, vals[i], i % 3, i);
      return s;
    };
    const whole = feed(0, vals.length);
    for (let cut = 0; cut <= vals.length; cut++) {
      const a = feed(0, cut);
      const b = feed(cut, vals.length);
      const bBefore = JSON.stringify(out.result(b));
      const m1 = fn.merge(fn.clone(a), b);
      const m2 = fn.merge(fn.clone(b), a);
      const res = (s) => out.result(s);
      const close = (x, y) => (typeof x === 'number' && typeof y === 'number' ? Math.abs(x - y) < 1e-9 : assert.deepEqual(x, y) ?? true);
      assert.ok(close(res(m1), res(whole)), `${out.name} cut ${cut}`);
      assert.ok(close(res(m2), res(whole)), `${out.name} cut ${cut} (reversed)`);
      assert.equal(JSON.stringify(res(b)), bBefore, `${out.name}: merge leaves its source alone`);
      // and the changelog round trip continues exactly
      assert.ok(close(res(fn.fromJson(JSON.parse(JSON.stringify(fn.toJson(whole))))), res(whole)), `${out.name}: toJson/fromJson`);
    }
  }
});

test('sessions under --emit update: merges retract the merged sessions first', () => {
  const w = makeWindow(['session', '5'], { time: 'r.t', by: 'r.k', grace: '100' });
  const a = makeAggregate(['count', 'sum(r.v)'], { emit: 'update' });
  const r = drive(w, a, [{ k: 'A', v: 1, t: 10 }, { k: 'A', v: 2, t: 20 }, { k: 'A', v: 4, t: 12 }, { k: 'A', v: 8, t: 16 }]);
  const row = (start, end, count, sum_v, emit) => ({ key: 'A', window: win(start, end), count, sum_v, emit });
  assert.deepEqual(r.steps, [
    [row(10, 10, 1, 1, 'update')],
    [row(20, 20, 1, 2, 'update')],
    [row(10, 10, null, null, 'retract'), row(10, 12, 2, 5, 'update')],
    [row(10, 12, null, null, 'retract'), row(20, 20, null, null, 'retract'), row(10, 20, 4, 15, 'update')],
  ]);
  assert.deepEqual(r.atEnd, []);
  // The same input under final: one result, the merged session, at end.
  const f = drive(makeWindow(['session', '5'], { time: 'r.t', by: 'r.k', grace: '100' }), makeAggregate(['count', 'sum(r.v)']), [{ k: 'A', v: 1, t: 10 }, { k: 'A', v: 2, t: 20 }, { k: 'A', v: 4, t: 12 }, { k: 'A', v: 8, t: 16 }]);
  assert.deepEqual(f.all, [row(10, 20, 4, 15, 'final')]);
});

test('final order is (end, start, key) with keys compared as text; composite keys are arrays', () => {
  const w = makeWindow(['hopping', '10'], { time: 'r.t', every: '5', grace: '20' });
  const a = makeAggregate(['count'], { by: ['r.k', 'r.n'] });
  const vals = [{ k: 'b', n: 1, t: 7 }, { k: 'a', n: 2, t: 8 }, { k: 'a', n: 10, t: 3 }, { k: 'b', n: 1, t: 40 }];
  const r = drive(w, a, vals);
  assert.deepEqual(r.steps[3].map((o) => [o.window.start, o.window.end, o.key]), [
    [0, 10, ['a', 10]], [0, 10, ['a', 2]], [0, 10, ['b', 1]], [5, 15, ['a', 2]], [5, 15, ['b', 1]],
  ]);
  assert.deepEqual(r.atEnd.map((o) => [o.window.start, o.key]), [[35, ['b', 1]], [40, ['b', 1]]]);
});

test('output records: Kafka key key@start (count: key#index, rolling: the key), timestamp = latest event time', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const a = makeAggregate(['count'], { by: 'r.k' });
  const r = drive(w, a, [{ k: 'A', t: 3 }, { k: 'A', t: 7 }, { k: 'A', t: 5 }, { k: 1, t: 5 }]);
  const recs = r.raw.filter((x) => x.ctl === undefined);
  assert.deepEqual(recs.map((x) => [x.key, x.ts]), [['1@0', 5], ['A@0', 7]]);
  const c = drive(makeWindow(['count', '1'], { by: 'r.k' }), makeAggregate(['count']), [{ k: 'A' }]);
  assert.equal(c.raw.find((x) => x.ctl === undefined).key, 'A#0');
  const { recs: rr } = rolling(['count'], [{ k: 'A' }], { by: 'r.k' });
  assert.equal(rr[0].key, 'A');
  const n = drive(makeWindow(['tumbling', '10'], { time: 'r.t' }), makeAggregate(['count']), [{ t: 3 }]);
  assert.equal(n.raw.find((x) => x.ctl === undefined).key, '@0');
});

test('rolling: --emit update by default, --emit end sorted by key, --emit final refused', () => {
  const vals = [{ k: 'b' }, { k: 'a' }, { k: 'b' }, { k: null }, {}];
  assert.deepEqual(rolling(['count'], vals, { by: 'r.k' }).out.map((o) => [o.key, o.count]), [['b', 1], ['a', 1], ['b', 2], [null, 1], [null, 2]]);
  assert.deepEqual(rolling(['count'], vals, { by: 'r.k', emit: 'end' }).out.map((o) => [o.key, o.count]), [['a', 1], ['b', 2], [null, 2]]);
  assert.throws(() => rolling(['count'], vals, { emit: 'final' }), (e) => e instanceof UsageError && /--emit final` needs windows/.test(e.message));
});

test('window/aggregate key conflicts and emit modes are checked when the window spec arrives', () => {
  const spec = (args, opts) => {
    const out = [];
    makeWindow(args, opts).process([rec({ t: 1, k: 'A' })], out);
    return out;
  };
  assert.throws(() => makeAggregate(['count'], { by: 'r.k' }).process(spec(['session', '5'], { time: 'r.t' }), []), (e) => e instanceof UsageError && /cannot regroup session windows/.test(e.message) && /window session … --by r\.k/.test(e.hint));
  assert.throws(() => makeAggregate(['count'], { by: 'r.j' }).process(spec(['tumbling', '5'], { time: 'r.t', by: 'r.k' }), []), /both `window --by r\.k` and `aggregate --by r\.j`/);
  // the same key on both is accepted: the window's key
  const same = [];
  const agg = makeAggregate(['count'], { by: 'r.k' });
  agg.process(spec(['tumbling', '5'], { time: 'r.t', by: 'r.k' }), same);
  agg.end(same);
  assert.deepEqual(data(same), [{ key: 'A', window: win(0, 5), count: 1, emit: 'final' }]);
  assert.throws(() => makeAggregate(['count'], { emit: 'end' }).process(spec(['tumbling', '5'], { time: 'r.t' }), []), /`--emit end` is for rolling aggregates/);
  const ok = makeAggregate(['count'], { by: 'r.k' });
  const out = [];
  ok.process(spec(['tumbling', '5'], { time: 'r.t' }), out);
  ok.end(out);
  assert.deepEqual(data(out), [{ key: 'A', window: win(0, 5), count: 1, emit: 'final' }]);
  // The key may come from the window stage instead (any window type).
  const byWin = makeAggregate(['count']);
  const o2 = [];
  byWin.process(spec(['tumbling', '5'], { time: 'r.t', by: 'r.k' }), o2);
  byWin.end(o2);
  assert.deepEqual(data(o2), [{ key: 'A', window: win(0, 5), count: 1, emit: 'final' }]);
  // Tags without the spec line (window --no-watermarks before aggregate) are refused, not rolled up.
  const noSpec = spec(['tumbling', '5'], { time: 'r.t', watermarks: false });
  assert.throws(() => makeAggregate(['count']).process(noSpec, []), /window tags but no `\$window` line/);
  const late = makeAggregate(['count']);
  late.process([rec({ a: 1 })], []);
  assert.throws(() => late.process([Rec.control('$window', { type: 'tumbling', size: 5 })], []), /arrived after data records/);
  assert.throws(() => makeAggregate(['count']).process([Rec.control('$window', { type: 'weekly' })], []), /invalid `\$window` control record/);
});

test('state: one accumulator per open (window, key), released when the window closes', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const a = makeAggregate(['count', 'p99(r.t)'], { by: 'r.k' });
  const vals = [];
  for (let t = 0; t < 1000; t++) vals.push({ k: `k${t % 7}`, t });
  drive(w, a, vals, { end: false, batch: 50 });
  assert.equal(a.stateSize, 7, 'only the last window is open');
  assert.equal(w.stateSize, 1);
  a.end([]);
  assert.equal(a.stateSize, 0);
  // Sessions: merged sessions are gone, closed ones released.
  const sw = makeWindow(['session', '5'], { time: 'r.t', by: 'r.k' });
  const sa = makeAggregate(['count']);
  drive(sw, sa, [{ k: 'A', t: 1 }, { k: 'A', t: 3 }, { k: 'B', t: 4 }, { k: 'A', t: 50 }], { end: false });
  assert.equal(sa.stateSize, 1);
  assert.equal(sw.stateSize, 1);
});

test('reads: the aggregate reads the tags and its expressions; the window only --time and --by', () => {
  assert.deepEqual(makeWindow(['tumbling', '10'], { time: 'r.ts', by: 'r.page' }).reads, ['ts', 'page']);
  assert.equal(makeWindow(['tumbling', '10'], { time: 'Date.parse(r.when)' }).reads.join(), 'when');
  // No tags: fused they travel on the record; piped the decoder adds them after the `$window` line.
  assert.deepEqual(makeAggregate(['count', 'avg(r.ms)'], { by: 'r.page' }).reads, ['ms', 'page']);
  assert.equal(makeAggregate(['sum(r)']).reads, 'all');
  assert.equal(makeAggregate(['count']).reads, 'none');
  // The benchmark pipeline decodes exactly the three fields it uses.
  const w = makeWindow(['tumbling', '1m'], { time: 'r.ts' });
  const a = makeAggregate(['count', 'avg(r.latency_ms)', 'p99(r.latency_ms)'], { by: 'r.page' });
  assert.deepEqual(new Chain([w, a]).plan('none'), ['ts', 'latency_ms', 'page']);
});

test('the decoder adds the window tags to its views from the `$window` line on', () => {
  const dec = new NdjsonDecoder(['v'], new RecordErrors({ mode: 'fail' }, 'stdin'), { name: 'stdin', where: (p) => `stdin line ${p}` });
  const out = [];
  dec.decode('{"v":1,"@time":5}\n{"$kstream":{"window":{"type":"count","size":2,"partial":true,"by":null}}}\n{"v":2,"@windows":[{"index":0}],"@key":"k"}', 1, out);
  assert.deepEqual(out.map((r) => r.ctl ?? { ...r.value }), [
    { v: 1 },
    '$window',
    { v: 2, '@time': undefined, '@windows': [{ index: 0 }], '@key': 'k', '@merged': undefined, '@value': undefined },
  ]);
  const more = [];
  dec.decode('{"v":3,"@time":7,"@windows":[]}', 4, more);
  assert.deepEqual({ ...more[0].value }, { v: 3, '@time': 7, '@windows': [], '@key': undefined, '@merged': undefined, '@value': undefined });
});

test('piped hand-over: window output as NDJSON, decoded with the aggregate plan, gives the fused bytes', () => {
  const cases = [
    [['tumbling', '10'], { time: 'r.t', grace: '3' }, ['count', 'sum(r.v)', 'p50(r.v)'], { by: 'r.k' }],
    [['hopping', '10'], { time: 'r.t', every: '4' }, ['avg(r.v)', 'first(r.v)', 'last(r.v)'], { by: 'r.k', emit: 'update' }],
    [['sliding', '4'], { time: 'r.t', by: 'r.k', grace: '6' }, ['sum(r.v)', 'distinct(r.v)'], { emit: 'update' }],
    [['session', '3'], { time: 'r.t', by: 'r.k', grace: '2' }, ['count', 'topk(r.v, 2)'], { emit: 'update' }],
    [['count', '3'], { by: 'r.k' }, ['sum(r.v)', 'stddev(r.v)'], {}],
  ];
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const input = Array.from({ length: 200 }, (_, i) => ({ k: 'ABC'[Math.floor(rnd() * 3)], v: Math.floor(rnd() * 10), t: Math.max(0, i - Math.floor(rnd() * 8)), pad: 'x'.repeat(i % 5) }));
  const src = { name: 'stdin', where: (p) => `stdin line ${p}` };
  for (const [wargs, wopts, fns, aopts] of cases) {
    const fused = drive(makeWindow(wargs, wopts), makeAggregate(fns, aopts), input, { batch: 17 }).raw.map(encodeValue);
    // Piped: the window stage alone, its output written as text; the aggregate decodes it in other chunks.
    const w = makeWindow(wargs, wopts);
    const wout = [];
    for (let i = 0; i < input.length; i += 23) w.process(input.slice(i, i + 23).map((v, j) => rec(v, i + j + 1)), wout);
    w.end(wout);
    const text = wout.map(encodeValue).join('\n') + '\n';
    const agg = makeAggregate(fns, aopts);
    const dec = new NdjsonDecoder(agg.reads, new RecordErrors({ mode: 'fail' }, 'stdin'), src);
    const piped = [];
    const ls = text.split('\n');
    for (let i = 0; i < ls.length; i += 31) {
      const batch = [];
      dec.decode(ls.slice(i, i + 31).join('\n'), i + 1, batch);
      const out = [];
      agg.process(batch, out);
      piped.push(...out.map(encodeValue));
    }
    const out = [];
    agg.end(out);
    piped.push(...out.map(encodeValue));
    assert.ok(fused.filter((l) => !l.startsWith('{"$')).length > 5, `${wargs[0]} produces results`);
    assert.deepEqual(piped, fused, wargs[0]);
    // A source whose views lack the tags (the decoder never saw the `$window` line: it came as a record of
    // its own, as from another source): aggregate parses those records whole and still agrees.
    const agg2 = makeAggregate(fns, aopts);
    const dec2 = new NdjsonDecoder(agg2.reads, new RecordErrors({ mode: 'fail' }, 'stdin'), src);
    const recs = [];
    dec2.decode(ls.slice(1).join('\n'), 2, recs);
    const out2 = [];
    agg2.process([Rec.control('$window', JSON.parse(ls[0]).$kstream.window), ...recs], out2);
    agg2.end(out2);
    assert.deepEqual(out2.map(encodeValue), fused, `${wargs[0]}, views without tags`);
  }
});

test('percentiles agree with `stats` (report/hdr.ts) for small groups (exact path) and large ones (histogram)', async () => {
  const { Hdr } = await import('../dist/src/report/hdr.js');
  const { HDR_EXACT_LIMIT } = await import('../dist/src/operators/aggfns.js');
  let s = 9;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const ps = [0, 1, 25, 50, 90, 99, 99.9, 100];
  for (const n of [1, 2, 3, 7, 100, HDR_EXACT_LIMIT, HDR_EXACT_LIMIT + 1, 3000]) {
    for (const scale of [1, 1000, 1e6, 1e10]) {
      const vals = Array.from({ length: n }, () => Math.round(rnd() * scale * 1000) / 1000);
      const ref = new Hdr();
      for (const v of vals) ref.record(v);
      const got = last(ps.map((p) => `p${p}(r.v) as q${String(p).replace('.', '_')}`), vals.map((v) => ({ v })));
      for (const p of ps) assert.equal(got[`q${String(p).replace('.', '_')}`], ref.percentile(p), `n=${n} scale=${scale} p${p}`);
    }
  }
});

test('percentile bucket counts use the library\'s layout: same index and bucket value for every magnitude', async () => {
  const hdr = await import('hdr-histogram-js');
  const { binOf, valueOfBin, HdrBins, rankAt, bucketLow, bucketHigh, SCALE, shortestIn } = await import('../dist/src/operators/hdrbins.js');
  const report = await import('../dist/src/report/hdr.js');
  const h = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, useWebAssembly: false, autoResize: true });
  const probe = [0, 1, 2047, 2048, 2049, 4095, 4096, 1e6, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 1e13, 2 ** 52 - 1];
  for (let k = 11; k < 52; k++) probe.push(2 ** k - 1, 2 ** k, 2 ** k + 1);
  for (const v of probe) {
    assert.equal(binOf(v), h.countsArrayIndex(v), `index of ${v}`);
    assert.equal(valueOfBin(binOf(v)), h.valueFromIndex(h.countsArrayIndex(v)), `bucket value of ${v}`);
    assert.equal(bucketLow(v), h.lowestEquivalentValue(v), `lowest equivalent of ${v}`);
    assert.equal(bucketHigh(v), h.highestEquivalentValue(v), `highest equivalent of ${v}`);
  }
  // The reporting half is report/hdr.ts's, repeated so aggregate does not load the library.
  assert.equal(SCALE, report.SCALE);
  for (const v of probe) assert.equal(shortestIn(bucketLow(v), bucketHigh(v)), report.shortestIn(h.lowestEquivalentValue(v), h.highestEquivalentValue(v)), `shortest of ${v}`);
  // Percentiles of the counts are the library's, across growth and merges.
  let s = 5;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const a = new HdrBins();
  const b = new HdrBins();
  const ref = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, useWebAssembly: false, autoResize: true });
  for (let i = 0; i < 5000; i++) {
    const v = Math.round(rnd() ** 4 * 10 ** (1 + (i % 12)));
    (i % 3 ? a : b).record(v);
    ref.recordValue(v);
  }
  const m = a.clone();
  m.add(b);
  for (const p of [0, 0.1, 1, 25, 50, 90, 99, 99.9, 99.99, 100]) {
    const got = m.valueAtRank(rankAt(p, m.total));
    assert.equal(h.highestEquivalentValue(got), ref.getValueAtPercentile(p === 0 ? 1e-9 : p), `p${p}`);
  }
});

test('percentiles over many large windows: bucket counts reused from closed windows start from zero', async () => {
  const { Hdr } = await import('../dist/src/report/hdr.js');
  let s = 11;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const w = makeWindow(['tumbling', '1000'], { time: 'r.t' });
  const agg = makeAggregate(['count', 'p50(r.v)', 'p99(r.v)', 'p99.9(r.v)'], { by: 'r.k' });
  const refs = new Map();
  const values = [];
  for (let t = 0; t < 40_000; t++) {
    const k = t % 4 ? 'a' : 'b';
    // Later windows hold smaller values than earlier ones: leftovers in reused counts would show.
    const v = Math.round(rnd() ** 3 * (t < 20_000 ? 1e5 : 50) * 1000) / 1000;
    values.push({ t, k, v });
    const id = `${Math.floor(t / 1000)}|${k}`;
    if (!refs.has(id)) refs.set(id, new Hdr());
    refs.get(id).record(v);
  }
  const { all } = drive(w, agg, values, { batch: 500 });
  assert.equal(all.length, refs.size);
  for (const o of all) {
    const ref = refs.get(`${o.window.start / 1000}|${o.key}`);
    assert.equal(o.count, ref.count);
    assert.deepEqual([o.p50_v, o.p99_v, o['p99_9_v']], [ref.percentile(50), ref.percentile(99), ref.percentile(99.9)], `${o.key}@${o.window.start}`);
  }
  assert.equal(agg.stateSize, 0);
});
