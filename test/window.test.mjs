// The window stage: event time, lateness, assignment, tags and control lines; plus sliding windows against a
// brute-force definition of KIP-450 windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rec, encodeValue } from '../dist/src/pipeline/record.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';
import { RuntimeError, UsageError } from '../dist/src/pipeline/errors.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { WindowStage } from '../dist/src/operators/window.js';
import { NdjsonDecoder } from '../dist/src/codec/ndjson.js';
import { toEventTime } from '../dist/src/time/eventtime.js';
import { parseWindowArgs } from '../dist/src/time/windowspec.js';
import { makeAggregate, makeWindow, drive, rec, data, win } from './helpers/windowing.mjs';

const A = (v, t) => ({ k: 'A', v, t });
const lines = (recs) => recs.map(encodeValue);
function run(w, values) {
  const out = [];
  w.process(values.map((v, i) => rec(v, i + 1)), out);
  return out;
}

test('event time: ms numbers, digit strings, ISO-8601 (no zone = UTC), invalid ones', () => {
  assert.equal(toEventTime(1767225600123), 1767225600123);
  assert.equal(toEventTime(12.9), 12);
  assert.equal(toEventTime('1767225600123'), 1767225600123);
  assert.equal(toEventTime('2026-01-01T00:00:00Z'), Date.UTC(2026, 0, 1));
  assert.equal(toEventTime('2026-01-01T00:00:00'), Date.UTC(2026, 0, 1));
  assert.equal(toEventTime('2026-01-01'), Date.UTC(2026, 0, 1));
  assert.equal(toEventTime('2026-01-01T01:02:03.456+02:00'), Date.UTC(2025, 11, 31, 23, 2, 3, 456));
  assert.equal(toEventTime('2026-01-01T01:02:03.4567-0130'), Date.UTC(2026, 0, 1, 2, 32, 3, 456));
  assert.equal(toEventTime('2026-01-01 10:00Z'), Date.UTC(2026, 0, 1, 10));
  assert.equal(toEventTime(new Date(5000)), 5000);
  assert.equal(toEventTime(undefined), -1);
  assert.equal(toEventTime(null), -1);
  assert.equal(toEventTime(-5), -2);
  assert.equal(toEventTime('-5'), -2);
  assert.equal(toEventTime('1969-12-31T23:59:59Z'), -2);
  for (const bad of ['hello', '2026-02-30', '2026-13-01', '2026-01-01T25:00', '1 Jan 2026', NaN, Infinity, {}, true]) {
    assert.equal(toEventTime(bad), -3, String(bad));
  }
});

test('tags: appended to the original text; empty objects and non-objects; first line is the spec', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const out = [];
  w.process([rec({ t: 3, s: 'x' }, 1)], out);
  assert.deepEqual(lines(out), [
    '{"$kstream":{"window":{"type":"tumbling","size":10,"offset":0,"grace":0,"time":"r.t","by":null}}}',
    '{"t":3,"s":"x","@time":3,"@windows":[{"start":0,"end":10}]}',
  ]);
  const w2 = makeWindow(['tumbling', '10'], { time: 'r.t ?? 4' });
  const out2 = [];
  w2.process([new Rec({}, '{ }', false, 1), rec(7, 2), rec([1, 2], 3)], out2);
  assert.deepEqual(lines(out2).slice(1), [
    '{ "@time":4,"@windows":[{"start":0,"end":10}]}',
    '{"@value":7,"@time":4,"@windows":[{"start":0,"end":10}]}',
    '{"@value":[1,2],"@time":4,"@windows":[{"start":0,"end":10}]}',
  ]);
  assert.deepEqual(out2[2].value, { '@value': 7, '@time': 4, '@windows': [win(0, 10)] });
  // Without original text the value is serialised, with the same result.
  const r = new Rec({ t: 3, s: 'x' }, undefined, false, 1);
  const out3 = [];
  makeWindow(['tumbling', '10'], { time: 'r.t' }).process([r], out3);
  assert.equal(encodeValue(out3[1]), '{"t":3,"s":"x","@time":3,"@windows":[{"start":0,"end":10}]}');
});

test('tags on partial views: later stages still read their own fields', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t', by: 'r.k' });
  assert.deepEqual(w.reads, ['t', 'k']);
  assert.equal(w.keepsValue, true);
  // A later stage reading `@key` makes the decoder give the view a field for it: the tag lands there, in place.
  const dec = new NdjsonDecoder(['t', 'k', 'v', '@key'], new RecordErrors({ mode: 'fail' }, 'stdin'), { name: 'stdin', where: (p) => `stdin line ${p}` });
  const inRecs = [];
  dec.decode('{"k":"A","v":1,"t":3,"other":{"deep":[1,2]}}\n', 1, inRecs);
  assert.equal(inRecs[0].partial, true);
  const view = inRecs[0].value;
  const out = [];
  w.process(inRecs, out);
  const t = out[1];
  assert.equal(t, inRecs[0], 'the record itself is tagged, not copied');
  assert.equal(t.partial, true);
  assert.equal(t.value, view);
  assert.equal(t.value.v, 1);
  assert.equal(t.value['@key'], 'A');
  assert.ok(!('@time' in t.value), 'no field for tags no stage reads');
  assert.deepEqual([t.tags.time, t.tags.windows, t.tags.key, t.tags.merged], [3, [win(0, 10)], 'A', undefined]);
  assert.equal(encodeValue(t), '{"k":"A","v":1,"t":3,"other":{"deep":[1,2]},"@time":3,"@windows":[{"start":0,"end":10}],"@key":"A"}');
  assert.deepEqual(t.fullValue().other, { deep: [1, 2] });
  assert.equal(t.fullValue()['@time'], 3);
});

test('tumbling boundaries: [start, end), t = end belongs to the next window', () => {
  const out = run(makeWindow(['tumbling', '10'], { time: 'r.t', grace: '100' }), [A(1, 0), A(1, 9), A(1, 10), A(1, 19), A(1, 20)]);
  assert.deepEqual(data(out).map((v) => v['@windows']), [[win(0, 10)], [win(0, 10)], [win(10, 20)], [win(10, 20)], [win(20, 30)]]);
});

test('hopping: overlapping windows ascending, none below 0, offset shifts the grid', () => {
  const w = makeWindow(['hopping', '10'], { time: 'r.t', every: '5', grace: '100' });
  assert.deepEqual(data(run(w, [A(1, 3), A(1, 7), A(1, 12)])).map((v) => v['@windows']), [
    [win(0, 10)],
    [win(0, 10), win(5, 15)],
    [win(5, 15), win(10, 20)],
  ]);
  const h3 = makeWindow(['hopping', '10'], { time: 'r.t', every: '3', grace: '100' });
  assert.deepEqual(data(run(h3, [A(1, 10)]))[0]['@windows'], [win(3, 13), win(6, 16), win(9, 19)]);
  const off = makeWindow(['tumbling', '10'], { time: 'r.t', offset: '3', grace: '100' });
  assert.deepEqual(data(run(off, [A(1, 3), A(1, 12), A(1, 13)])).map((v) => v['@windows']), [[win(3, 13)], [win(3, 13)], [win(13, 23)]]);
  // Before the first window of an offset grid there is no window: dropped as an invalid time.
  const off2 = makeWindow(['tumbling', '10'], { time: 'r.t', offset: '3' }, 'skip');
  assert.deepEqual(data(run(off2, [A(1, 1)])), []);
  assert.equal(off2.counters()['invalid-time'], 1);
});

test('hopping: a record late for some windows still counts in the open ones; late only when all closed', () => {
  const w = makeWindow(['hopping', '10'], { time: 'r.t', every: '5' });
  const out = run(w, [A(1, 12), A(1, 9), A(1, 4)]);
  // @12 → W=12: [0,10) closed; @9 is in [0,10) (closed) and [5,15) (open); @4 only in [0,10).
  assert.deepEqual(data(out).map((v) => v['@windows']), [[win(5, 15), win(10, 20)], [win(5, 15)]]);
  assert.equal(w.counters().late, 1);
});

test('watermarks: a $watermark line follows the record that closed a window, and only then', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t', grace: '2' });
  const out = run(w, [A(1, 1), A(1, 5), A(1, 11), A(1, 12), A(1, 13), A(1, 25)]);
  const l = lines(out).map((s) => (s.startsWith('{"$') ? s : JSON.parse(s).t));
  assert.deepEqual(l.slice(1), [1, 5, 11, 12, '{"$kstream":{"watermark":10}}', 13, 25, '{"$kstream":{"watermark":23}}']);
});

test('control lines: upstream $window/$watermark replaced, others passed; --no-watermarks drops all', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const out = [];
  w.process([Rec.control('$window', { type: 'count' }), Rec.control('$watermark', 99), Rec.control('$end', true), rec(A(1, 1))], out);
  assert.deepEqual(out.map((r) => r.ctl ?? 'data'), ['$window', '$end', 'data']);
  assert.equal(out[0].value.type, 'tumbling');
  const q = makeWindow(['tumbling', '10'], { time: 'r.t', watermarks: false });
  const out2 = [];
  q.process([Rec.control('$end', true), rec(A(1, 1)), rec(A(1, 11))], out2);
  assert.deepEqual(out2.map((r) => r.ctl ?? 'data'), ['data', 'data']);
  // An empty input writes nothing at all.
  const e = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const out3 = [];
  e.end(out3);
  assert.deepEqual(out3, []);
});

test('invalid event time: counted under skip; under fail a RuntimeError naming the record and reason', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' }, 'skip');
  const out = run(w, [{ t: -1 }, { t: 'soon' }, {}, { t: '2026-01-01T00:00:00Z' }]);
  assert.equal(data(out).length, 1);
  assert.equal(w.counters()['invalid-time'], 3);
  assert.equal(w.counters().late, 0);
  const f = makeWindow(['tumbling', '10'], { time: 'r.t' }, 'fail');
  assert.throws(() => run(f, [{ t: 1 }, { t: -7 }]), (e) => e instanceof RuntimeError && /record 2: invalid event time \(negative\) from --time `r\.t`: -7/.test(e.message));
  const g = makeWindow(['tumbling', '10'], { time: 'r.t' }, 'fail');
  assert.throws(() => run(g, [{ u: 1 }]), /record 1: invalid event time \(missing\)/);
  const h = makeWindow(['tumbling', '10'], { time: 'r.t.x.y' }, 'fail');
  assert.throws(() => run(h, [{ t: 1 }]), /record 1: invalid event time: --time expression `r\.t\.x\.y` threw TypeError/);
});

test('time source: --time, else the record timestamp; a missing one is an invalid time, never the clock', () => {
  const errs = (mode = 'fail') => new RecordErrors({ mode }, 'window');
  const spec = parseWindowArgs(['tumbling', '10'], { time: 'ts', by: null });
  const w = new WindowStage({ spec, timeErrors: errs('skip'), keyErrors: errs(), clock: () => 1234.7 });
  const out = [];
  w.process([rec({ a: 1 }, 1, 25), rec({ a: 2 }, 2), rec({ a: 3 }, 3, 26)], out);
  assert.deepEqual(data(out).map((v) => v['@time']), [25, 26], 'the record without a timestamp is left out, and stream time stays');
  assert.equal(w.counters()['invalid-time'], 1);
  assert.equal(w.tick, undefined, 'no clock without --processing-time or --idle-flush');
  const f = new WindowStage({ spec, timeErrors: errs(), keyErrors: errs(), clock: () => 1234.7 });
  assert.throws(() => f.process([rec({ a: 2 }, 7)], []), /record 7: invalid record timestamp \(missing\)/);
  const t = makeWindow(['tumbling', '10'], { time: 'r.t' });
  assert.equal(t.tick, undefined, 'event-time windows with --time need no clock ticks');
});

test('processing time: windows close by the (injected) clock; nothing is late', () => {
  let now = 1000;
  const errs = () => new RecordErrors({ mode: 'fail' }, 'window');
  const spec = parseWindowArgs(['tumbling', '100'], { time: 'processing', by: null });
  const w = new WindowStage({ spec, processingTime: true, timeErrors: errs(), keyErrors: errs(), clock: () => now });
  const agg = makeAggregate(['count']);
  const out = [];
  const push = (recs) => {
    const mid = [];
    w.process(recs, mid);
    agg.process(mid, out);
  };
  push([rec({ t: 5 }, 1), rec({ t: 6 }, 2)]);
  now = 1050;
  push([rec({ t: 1 }, 3)]);
  const mid = [];
  w.tick(1099, mid);
  assert.deepEqual(mid, []);
  w.tick(1100, mid);
  assert.deepEqual(lines(mid), ['{"$kstream":{"watermark":1100}}']);
  agg.process(mid, out);
  assert.deepEqual(data(out), [{ window: win(1000, 1100), count: 3, emit: 'final' }]);
  now = 900; // a clock step backwards does not make records late
  push([rec({}, 4)]);
  assert.deepEqual(data(out).length, 1);
  assert.equal(w.counters().late, 0);
});

test('idle flush: stream time follows the wall clock once the input is quiet', () => {
  let now = 50_000;
  const errs = () => new RecordErrors({ mode: 'fail' }, 'window');
  const spec = parseWindowArgs(['tumbling', '10'], { time: 'r.t', by: null });
  const w = new WindowStage({ spec, time: compileExpr('r.t', '--time'), idleFlushMs: 1000, timeErrors: errs(), keyErrors: errs(), clock: () => now });
  const out = [];
  w.process([rec(A(1, 3))], out);
  const t1 = [];
  w.tick(50_999, t1);
  assert.deepEqual(t1, []);
  w.tick(51_005, t1); // quiet for 1005 ms: ST = 3 + 1005 → W passes 10
  assert.deepEqual(lines(t1), ['{"$kstream":{"watermark":1008}}']);
  // A record now behind the advanced stream time is late.
  now = 51_006;
  w.process([rec(A(1, 9))], out);
  assert.equal(w.counters().late, 1);
});

test('--late <file>: late records appended as their original lines', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-late-')), 'late.ndjson');
  const w = makeWindow(['tumbling', '10'], { time: 'r.t', late: file });
  run(w, [A(1, 2), A(1, 11), A(7, 7), A(8, 1)]);
  w.end([]);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"k":"A","v":7,"t":7}\n{"k":"A","v":8,"t":1}\n');
});

test('grace expiry: a record counts until ST passes end + grace, then is late', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t', grace: '3' });
  const a = makeAggregate(['count']);
  const r = drive(w, a, [A(1, 1), A(1, 12), A(1, 9), A(1, 13), A(1, 9)]);
  assert.deepEqual(r.steps, [[], [], [], [{ window: win(0, 10), count: 2, emit: 'final' }], []]);
  assert.equal(w.counters().late, 1);
});

test('sessions: merge, bridge two sessions, per-key, shared stream time closes other keys, state released', () => {
  const w = makeWindow(['session', '5'], { time: 'r.t', by: 'r.k', grace: '10' });
  const out = run(w, [A(1, 10), A(1, 20), A(1, 15), { k: 'B', t: 16 }, { k: 'B', t: 40 }]);
  const tags = data(out).map((v) => [v['@key'], v['@windows'][0], v['@merged']]);
  assert.deepEqual(tags, [
    ['A', win(10, 10), undefined],
    ['A', win(20, 20), undefined],
    ['A', win(10, 20), [win(10, 10), win(20, 20)]],
    ['B', win(16, 16), undefined],
    ['B', win(40, 40), undefined],
  ]);
  // @40 (W = 30) closed A's [10,20] (30 > 20 + 5) and B's [16,16]: a watermark follows it; only B's [40,40] is held.
  assert.equal(out.at(-1).ctl, '$watermark');
  assert.equal(w.stateSize, 1);
  // Exactly gap apart still merges; a record inside a session changes nothing and is not a merge.
  const g = makeWindow(['session', '5'], { time: 'r.t', by: 'r.k' });
  assert.deepEqual(data(run(g, [A(1, 10), A(1, 15), A(1, 12)])).map((v) => [v['@windows'][0], v['@merged']]), [
    [win(10, 10), undefined],
    [win(10, 15), [win(10, 10)]],
    [win(10, 15), undefined],
  ]);
});

test('sessions: a record within the gap of a closed session starts a new one; alone and closed it is late', () => {
  const w = makeWindow(['session', '5'], { time: 'r.t', by: 'r.k' });
  const out = run(w, [A(1, 10), A(1, 16), A(1, 12), { k: 'A', t: 2 }]);
  // @16 closes [10,10] (16 > 15). @12 is 2 from the closed [10,10] but that session is final: new [12,12]
  // ([12,12] closes at 18 > 16 so it is still open, and it is 4 from [16,16]: merged). @2 is late.
  assert.deepEqual(data(out).map((v) => v['@windows'][0]), [win(10, 10), win(16, 16), win(12, 16)]);
  assert.equal(w.counters().late, 1);
});

test('count windows: per key, no time, no watermarks', () => {
  const w = makeWindow(['count', '2'], { by: 'r.k' });
  const out = run(w, [{ k: 'A' }, { k: 'B' }, { k: 'A' }, { k: 'A' }]);
  assert.deepEqual(out.map((r) => r.ctl ?? r.value['@windows'][0].index), ['$window', 0, 0, 0, 1]);
  assert.ok(!('@time' in out[1].value));
  assert.equal(lines(out)[0], '{"$kstream":{"window":{"type":"count","size":2,"partial":true,"by":"r.k"}}}');
});

test('usage errors: type, size, flags', () => {
  const bad = [
    [['tumblin', '10'], {}, /unknown window type `tumblin`.*did you mean `tumbling`/s],
    [['tumbling'], {}, /`window tumbling` needs a size/],
    [['tumbling', '0'], {}, /needs a size > 0/],
    [['tumbling', '10x'], {}, /invalid window tumbling size `10x`/],
    [['hopping', '10'], {}, /hopping windows need `--every/],
    [['hopping', '10'], { every: '20' }, /must be > 0 and at most the window size/],
    [['tumbling', '10'], { every: '5' }, /`--every` is for hopping/],
    [['session', '10'], { offset: '5' }, /`--offset` is for tumbling and hopping/],
    [['session', '0'], {}, /needs a gap > 0/],
    [['count', '0'], {}, /invalid count window size/],
    [['count', '2.5'], {}, /invalid count window size/],
    [['count', '5'], { grace: '1s' }, /count windows have no time/],
    [['tumbling', '10'], { partial: false }, /`--no-partial` is for count windows/],
    [['tumbling', '10', 'extra'], {}, /unexpected argument `extra`/],
    [['tumbling', '10'], { time: 'r.t', processingTime: true }, /exclude each other/],
    [['tumbling', '10'], { time: 'r.t +' }, /invalid --time expression/],
  ];
  for (const [args, opts, re] of bad) {
    assert.throws(() => makeWindow(args, opts), (e) => e instanceof UsageError && re.test(e.message + ' ' + e.hint), `${args} ${JSON.stringify(opts)}`);
  }
  assert.deepEqual(parseWindowArgs(['sliding', '0'], { time: 'ts', by: null }).diff, 0);
  assert.deepEqual(parseWindowArgs(['hopping', '1h'], { every: '15m', offset: '70m', time: 'ts', by: null }).offset, 10 * 60_000);
});

// ---- sliding windows against their definition ------------------------------------------------------------------

/** KIP-450 windows of a set of record times (D = diff), with their sums: the definition, computed directly. */
function slidingOracle(records, D) {
  const wins = new Map();
  const times = records.map((r) => r.t);
  const add = (s) => {
    const e = s + D;
    const inside = records.filter((r) => r.t >= s && r.t <= e);
    if (inside.length) wins.set(`${s},${e}`, inside.reduce((a, r) => a + r.v, 0));
  };
  for (const t of times) {
    add(t < D ? 0 : t - D);
    if (times.some((u) => u > t && u <= t + D)) add(t + 1);
  }
  return wins;
}

function seeded(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

test('sliding windows: any arrival order gives exactly the KIP-450 windows and sums (brute-force check)', () => {
  const rnd = seeded(7);
  for (let round = 0; round < 300; round++) {
    const D = [0, 1, 2, 3, 5, 8][round % 6];
    const n = 1 + Math.floor(rnd() * 9);
    const recs = Array.from({ length: n }, (_, i) => ({ k: 'A', t: Math.floor(rnd() * 25), v: 1 + i * 10 }));
    const w = makeWindow(['sliding', String(D)], { time: 'r.t', by: 'r.k', grace: '1000' });
    const a = makeAggregate(['sum(r.v) as s', 'count']);
    const got = new Map(drive(w, a, recs).all.map((o) => [`${o.window.start},${o.window.end}`, o.s]));
    assert.deepEqual(got, slidingOracle(recs, D), `D=${D} arrivals ${JSON.stringify(recs.map((r) => r.t))}`);
  }
});

/**
 * Sliding windows with late records, as sets of records: the steps of Kafka Streams' KStreamSlidingWindowAggregate
 * (processInOrder for t >= D, processEarly for t < D) with docs/semantics.md's close and release points, keeping
 * in each window the set of records it holds instead of an aggregate. Records arrive in order; W = ST − grace,
 * including the arriving record. A window is open while W <= end; it is released (no longer found) once
 * W >= end + D + 2. A record with t + 1 + D <= W is dropped. A record goes into the open windows holding it; its
 * missing windows are created — the previous record's right window and its own left window with it alone or
 * with the set of the window they are seeded from, its right window with the set (before this record) of the
 * latest-starting window holding t — and only when open. Returns "start,end" → the window's records' sum.
 */
function slidingLateOracle(records, D, grace) {
  const wins = new Map(); // start -> { set, maxTs, released }
  let st = -Infinity;
  for (const r of records) {
    const t = r.t;
    st = Math.max(st, t);
    const W = st - grace;
    for (const [s, x] of wins) if (W >= s + D + D + 2) x.released = true;
    if (t + 1 + D <= W) continue;
    const open = (s) => W <= s + D;
    const put = (s, set, maxTs) => {
      if (open(s)) wins.set(s, { set: new Set([...set, r]), maxTs, released: false });
    };
    const update = (s, x) => {
      if (!open(s)) return;
      x.set.add(r);
      x.maxTs = Math.max(x.maxTs, t);
    };
    const found = [...wins].filter(([s, x]) => !x.released && s >= (t < D ? 0 : Math.max(0, t - 2 * D)) && s <= t + 1).sort((a, b) => a[0] - b[0]);
    let prevTs;
    let rightSrc; // [set before this record, maxTs]
    let rightExists = false;
    if (t < D) {
      let combined;
      for (const [s, x] of found) {
        if (s === 0) {
          combined = x;
          if (x.maxTs < t) prevTs = x.maxTs;
        } else if (s <= t) {
          rightSrc = [new Set(x.set), x.maxTs];
          update(s, x);
        } else if (s === t + 1) rightExists = true;
      }
      if (!rightSrc && combined && combined.maxTs > t) rightSrc = [new Set(combined.set), combined.maxTs];
      if (!rightExists && rightSrc && rightSrc[1] > t) wins.set(t + 1, { set: rightSrc[0], maxTs: rightSrc[1], released: false });
      if (prevTs !== undefined && !found.some(([s]) => s === prevTs + 1)) put(prevTs + 1, [], t);
      if (combined) update(0, combined);
      else put(0, [], t);
    } else {
      let leftSrc;
      let leftExists = false;
      for (const [s, x] of found) {
        const end = s + D;
        if (end < t) {
          leftSrc = x;
          prevTs = x.maxTs;
        } else if (end === t) {
          leftExists = true;
          if (x.maxTs < t) prevTs = x.maxTs;
          update(s, x);
        } else if (s <= t) {
          rightSrc = [new Set(x.set), x.maxTs];
          update(s, x);
        } else if (s === t + 1) rightExists = true;
      }
      // the previous record's right window; when it is t's left window too, it is created once
      if (prevTs !== undefined && !found.some(([s]) => s === prevTs + 1) && prevTs + 1 + D >= t) put(prevTs + 1, [], t);
      if (!leftExists && !(prevTs !== undefined && prevTs + 1 === t - D && wins.has(t - D))) {
        const seeded = prevTs !== undefined && t - D <= prevTs;
        put(t - D, seeded ? leftSrc.set : [], t);
      }
      if (!rightExists && rightSrc && rightSrc[1] > t) wins.set(t + 1, { set: rightSrc[0], maxTs: rightSrc[1], released: false });
    }
  }
  return new Map([...wins].map(([s, x]) => [`${s},${s + D}`, [...x.set].reduce((a, r) => a + r.v, 0)]));
}

test('sliding windows: late records, closed windows seeding new ones, state released after close', () => {
  const rnd = seeded(11);
  const late = { rounds: 0, onTime: 0, missing: 0 };
  for (let round = 0; round < 300; round++) {
    const D = [1, 3, 5][round % 3];
    const grace = [0, 2, 4][Math.floor(round / 3) % 3];
    const recs = Array.from({ length: 1 + Math.floor(rnd() * 10) }, (_, i) => ({ k: 'A', t: Math.floor(rnd() * 30), v: 1 << i }));
    const w = makeWindow(['sliding', String(D)], { time: 'r.t', by: 'r.k', grace: String(grace) });
    const a = makeAggregate(['sum(r.v) as s']);
    const res = drive(w, a, recs).all;
    // Values are distinct powers of two, so a sum names the records in it. Sound: a window only holds records
    // inside it that arrived while it was open (ST at arrival − grace <= end). Complete when every record arrived
    // while its own left window was open — otherwise KS (and so kstream) keeps that record nowhere and windows
    // created later miss it (see SlidingAssigner).
    let st = -Infinity;
    const arrivals = recs.map((r) => ((st = Math.max(st, r.t)), { ...r, st }));
    const allOnTime = arrivals.every((r) => Math.max(r.t, D) >= r.st - grace);
    // Exact: with late records, the windows and sums of slidingLateOracle (sets of records, not kstream's
    // accumulators); with every record on time, each window holds every record inside it that arrived while it
    // was open.
    const expected = slidingLateOracle(recs, D, grace);
    if (allOnTime) late.onTime++;
    else late.rounds++;
    for (const o of res) {
      const { start, end } = o.window;
      const open = arrivals.filter((r) => r.t >= start && r.t <= end && r.st - grace <= end).reduce((x, r) => x | r.v, 0);
      const msg = `D=${D} grace=${grace} ${JSON.stringify(recs.map((r) => r.t))} window [${start},${end}]`;
      assert.equal(o.s & ~open, 0, msg);
      if (allOnTime) assert.equal(o.s, open, msg);
      else if (o.s !== open) late.missing++;
    }
    const keys = res.map((o) => `${o.window.start},${o.window.end}`);
    assert.equal(new Set(keys).size, keys.length, 'each window is emitted once');
    assert.deepEqual(new Map(res.map((o) => [`${o.window.start},${o.window.end}`, o.s])), expected, `D=${D} grace=${grace} arrivals ${JSON.stringify(recs.map((r) => r.t))}`);
  }
  // the rounds cover both cases, and the late one includes windows that miss a record they were open for
  assert.ok(late.rounds >= 50 && late.onTime >= 50 && late.missing > 0, JSON.stringify(late));
  // State: windows are released once they can no longer seed a new one (W > end + D + 1).
  const w = makeWindow(['sliding', '5'], { time: 'r.t', by: 'r.k' });
  const a = makeAggregate(['count']);
  drive(w, a, [A(1, 10), A(1, 12), A(1, 30)], { end: false });
  assert.equal(w.stateSize, 1, 'only [25,30] is held after @30');
  assert.equal(a.stateSize, 1);
  drive(w, a, [A(1, 100)], { end: false });
  assert.equal(w.stateSize, 1);
});
