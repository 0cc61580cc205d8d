// The dedupe stage: first occurrence wins within an event-time span (inclusive), no refresh by duplicates, state
// released by stream time, out-of-order input against a brute-force definition, changelog drain/restore, invalid
// times, and piped vs fused parity through the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rec, encodeValue } from '../dist/src/pipeline/record.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';
import { RuntimeError, UsageError } from '../dist/src/pipeline/errors.js';
import { isStateful } from '../dist/src/pipeline/stage.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { DedupeStage, STREAM_TIME_KEY } from '../dist/src/operators/dedupe.js';
import { NdjsonDecoder } from '../dist/src/codec/ndjson.js';
import dedupeCmd from '../dist/commands/dedupe.js';
import { contextFor } from '../dist/src/pipeline/assemble.js';
import { runSync, piped } from './helpers/spawn.mjs';

const ctx = (mode = 'fail', target) => contextFor({ opts: { onError: target ? `${mode}=${target}` : mode } }, true, 0, { key: true, ts: true, headers: true });

function make(opts, mode = 'fail', target) {
  return dedupeCmd.stage([], opts, ctx(mode, target));
}

function rec(value, pos = 1, ts) {
  const r = new Rec(value, JSON.stringify(value), false, pos);
  if (ts !== undefined) r.ts = ts;
  return r;
}

/** Feeds values (one batch of all, or batches of `batch`), returns the data values that passed. */
function run(stage, values, batch = values.length || 1) {
  const passed = [];
  for (let i = 0; i < values.length; i += batch) {
    const out = [];
    stage.process(values.slice(i, i + batch).map((v, j) => (v instanceof Rec ? v : rec(v, i + j + 1))), out);
    for (const r of out) passed.push(r.ctl === undefined ? r.value : { [r.ctl]: r.value });
  }
  return passed;
}

const X = (t, n) => ({ id: 'x', t, n });

/**
 * The definition, by brute force: every emitted record is kept; (X, t0) is remembered while stream time (this
 * record included) ≤ t0 + within; a record is a duplicate iff a remembered emitted record with its id lies within.
 */
function reference(values, within) {
  const emitted = [];
  const out = [];
  let st = -Infinity;
  for (const v of values) {
    st = Math.max(st, v.t);
    const dup = emitted.some((e) => e.id === v.id && st <= e.t + within && Math.abs(v.t - e.t) <= within);
    if (!dup) {
      emitted.push(v);
      out.push(v);
    }
  }
  return out;
}

/** A seeded stream of ids with times that jitter up to `disorder` behind a rising clock. */
function stream(n, { ids = 20, step = 3, disorder = 0, seed = 1 } = {}) {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = [];
  for (let i = 0; i < n; i++) {
    const base = 1000 + i * step;
    out.push({ id: 'k' + Math.floor(rnd() * ids), t: Math.max(0, base - Math.floor(rnd() * (disorder + 1))), n: i });
  }
  return out;
}

test('command: --by and --within required, durations parsed, reads declared, stateful not stateless', () => {
  assert.throws(() => make({ within: '1s' }), (e) => e instanceof UsageError && /needs `--by <expr>`/.test(e.message));
  assert.throws(() => make({ by: 'r.id' }), (e) => e instanceof UsageError && /needs `--within <dur>`/.test(e.message));
  assert.throws(() => make({ by: 'r.id', within: 'soon' }), (e) => e instanceof UsageError && /--within `soon`/.test(e.message));
  assert.throws(() => make({ by: 'r.id +', within: '1s' }), UsageError);
  const d = make({ by: ['r.user', 'r.page'], within: '1m', time: 'r.ts' });
  assert.deepEqual([...d.reads].sort(), ['page', 'ts', 'user']);
  assert.equal(d.keepsValue, true);
  assert.equal(d.stateless, undefined);
  assert.equal(isStateful(d), true);
  assert.deepEqual(make({ by: 'key', within: '1s' }).reads, 'none');
  assert.equal(make({ by: 'r', within: '1s' }).reads, 'all');
});

test('basic: first occurrence of each id passes untouched, later copies within the span are dropped and counted', () => {
  const d = make({ by: 'r.id', within: '1m', time: 'r.t' });
  const inRecs = [
    { id: 'a', t: 0, n: 1 }, { id: 'b', t: 1000, n: 2 }, { id: 'a', t: 2000, n: 3 }, { id: 'c', t: 3000, n: 4 },
    { id: 'b', t: 59_000, n: 5 }, { id: 'a', t: 61_000, n: 6 }, { id: 'a', t: 62_000, n: 7 },
  ].map((v, i) => rec(v, i + 1));
  inRecs[0].raw = '{ "id" : "a", "t":0, "n":1 }';
  const out = [];
  d.process(inRecs, out);
  assert.deepEqual(out.map((r) => r.value.n), [1, 2, 4, 6]);
  // Same records, same text: nothing is re-serialised.
  assert.equal(out[0], inRecs[0]);
  assert.equal(encodeValue(out[0]), '{ "id" : "a", "t":0, "n":1 }');
  assert.deepEqual(d.counters(), { duplicates: 3, 'invalid-time': 0, 'no-id': 0 });
});

test('ids: composite --by, JSON-normalised, 1 and "1" differ, null ids pass (no-id), Kafka key usable', () => {
  const d = make({ by: ['r.u', 'r.p'], within: 100, time: 'r.t' });
  assert.deepEqual(run(d, [
    { u: 'a', p: '/x', t: 1 }, { u: 'a', p: '/y', t: 2 }, { u: 'a', p: '/x', t: 3 }, { u: 'b', p: '/x', t: 4 }, { u: 'a', t: 5 }, { u: 'a', p: null, t: 6 },
  ]).map((v) => v.t), [1, 2, 4, 5]);
  const e = make({ by: 'r.id', within: 100, time: 'r.t' });
  assert.deepEqual(run(e, [
    { id: 1, t: 1 }, { id: '1', t: 2 }, { id: 1, t: 3 }, { t: 4 }, { id: null, t: 5 }, { id: { a: [1] }, t: 6 }, { id: { a: [1] }, t: 7 },
    { id: '\u00001', t: 8 }, { id: NaN, t: 9 },
  ]).map((v) => v.t), [1, 2, 4, 5, 6, 8, 9]);
  assert.equal(e.counters()['no-id'], 3); // missing, null, NaN (which is null once it crossed a pipe)
  const k = make({ by: 'key', within: 100, time: 'r.t' });
  const recs = [1, 2, 3].map((t) => rec({ t }, t));
  recs[0].key = 'K'; recs[1].key = 'K'; recs[2].key = 'L';
  assert.deepEqual(run(k, recs).map((v) => v.t), [1, 3]);
});

test('span boundary: exactly `within` apart is a duplicate, one ms more is not; a duplicate does not refresh', () => {
  const d = make({ by: 'r.id', within: '10ms', time: 'r.t' });
  assert.deepEqual(run(d, [X(0, 1), X(10, 2), X(11, 3), X(21, 4), X(22, 5)]).map((v) => v.n), [1, 3, 5]);
  // No refresh: copies every 8 ms keep coming and one passes every 16 ms (had each copy refreshed the span, as in
  // Confluent's dedup example, none after the first would pass).
  const e = make({ by: 'r.id', within: 10, time: 'r.t' });
  assert.deepEqual(run(e, [X(0, 1), X(8, 2), X(16, 3), X(24, 4), X(32, 5), X(40, 6)]).map((v) => v.n), [1, 3, 5]);
  // ISO-8601 times, the span in seconds.
  const f = make({ by: 'r.id', within: '30s', time: 'r.t' });
  assert.deepEqual(run(f, [
    X('2026-01-01T00:00:00Z', 1), X('2026-01-01T00:00:30Z', 2), X('2026-01-01T01:00:30.001+01:00', 3), X('1767225630001', 4),
  ]).map((v) => v.n), [1, 3]);
  // --within 0: only copies at the same millisecond.
  const g = make({ by: 'r.id', within: 0, time: 'r.t' });
  assert.deepEqual(run(g, [X(5, 1), X(5, 2), X(6, 3), X(5, 4)]).map((v) => v.n), [1, 3, 4]);
});

test('out of order: later and earlier copies both count; too-late records compare with what is remembered', () => {
  const d = make({ by: 'r.id', within: 10, time: 'r.t' });
  assert.deepEqual(run(d, [
    X(20, 1), X(12, 2), X(30, 3), X(31, 4), // 12 and 30 within 10 of 20; at ST 31 the entry at 20 is gone
    { id: 'z', t: 95, n: 5 }, { id: 'y', t: 100, n: 6 }, { id: 'z', t: 88, n: 7 }, // 88 is 12 behind ST but within 10 of z@95
    X(5, 8), X(6, 9), // x@31 was forgotten (ST 100 > 41); x@5 is too late to be remembered, so x@6 passes too
  ]).map((v) => v.n), [1, 4, 5, 6, 8, 9]);
  assert.deepEqual(d.counters().duplicates, 3);
});

test('brute force: in-order and out-of-order streams, every batch size, match the definition', () => {
  for (const [disorder, within, step] of [[0, 50, 3], [0, 0, 1], [40, 50, 3], [200, 30, 2], [5, 1000, 7]]) {
    const values = stream(1500, { disorder, step, ids: 25, seed: disorder * 31 + within });
    const want = reference(values, within).map((v) => v.n);
    for (const batch of [1, 7, 1500]) {
      const d = make({ by: 'r.id', within, time: 'r.t' });
      assert.deepEqual(run(d, values, batch).map((v) => v.n), want, `disorder ${disorder} within ${within} batch ${batch}`);
      assert.equal(d.counters().duplicates, values.length - want.length);
    }
  }
  // In order, the definition is the plain one: an earlier emitted copy within the span, nothing forgotten.
  const values = stream(800, { step: 1, ids: 10, seed: 9 });
  const emitted = [];
  const plain = values.filter((v) => {
    const dup = emitted.some((e) => e.id === v.id && v.t - e.t <= 40);
    if (!dup) emitted.push(v);
    return !dup;
  });
  assert.deepEqual(run(make({ by: 'r.id', within: 40, time: 'r.t' }), values).map((v) => v.n), plain.map((v) => v.n));
});

test('state is bounded by the span: entries are released as stream time passes t0 + within', () => {
  const d = make({ by: 'r.id', within: 100, time: 'r.t' });
  let max = 0;
  // 20k distinct ids, one per ms: at most within + 1 of them are live at once.
  for (let b = 0; b < 200; b++) {
    const out = [];
    d.process(Array.from({ length: 100 }, (_, i) => rec({ id: 'u' + (b * 100 + i), t: b * 100 + i }, i)), out);
    assert.equal(out.length, 100);
    max = Math.max(max, d.stateSize);
  }
  assert.equal(max, 101);
  assert.equal(d.stateSize, 101);
  // A jump in stream time releases everything older; a duplicate stream holds one entry per id.
  run(d, [{ id: 'late-comer', t: 1_000_000 }]);
  assert.equal(d.stateSize, 1);
  const e = make({ by: 'r.id', within: 50, time: 'r.t' });
  run(e, Array.from({ length: 5000 }, (_, i) => ({ id: 'k' + (i % 3), t: i })), 64);
  assert.equal(e.stateSize, 3);
});

test('time: Kafka record timestamp without --time, processing time (when asked) from an injected clock', () => {
  const d = make({ by: 'r.id', within: 10 });
  const recs = [[0, 'a'], [5, 'a'], [11, 'a'], [12, 'b']].map(([ts, id], i) => rec({ id }, i + 1, ts));
  assert.deepEqual(run(d, recs).map((v) => v.id), ['a', 'a', 'b']);

  let now = 1000.7;
  const p = new DedupeStage({
    by: [compileExpr('r.id', '--by expression')],
    withinMs: 500,
    processingTime: true,
    clock: () => now,
    timeErrors: new RecordErrors({ mode: 'fail' }, 'dedupe'),
    keyErrors: new RecordErrors({ mode: 'fail' }, 'dedupe'),
  });
  assert.deepEqual(run(p, [{ id: 'a', n: 1 }, { id: 'a', n: 2 }]).map((v) => v.n), [1]);
  now = 1500;
  assert.deepEqual(run(p, [{ id: 'a', n: 3 }]).map((v) => v.n), []); // 1500 − 1000 = 500: still within
  now = 1400; // a clock stepping back reads as stream time, never as a late record
  assert.deepEqual(run(p, [{ id: 'b', n: 4 }]).map((v) => v.n), [4]);
  now = 1501;
  assert.deepEqual(run(p, [{ id: 'a', n: 5 }, { id: 'b', n: 6 }]).map((v) => v.n), [5]);
  assert.equal(p.stateSize, 2);
});

test('control records pass through in order; partial decoder views are read and forwarded as-is', () => {
  const d = make({ by: 'r.id', within: 10, time: 'r.t' });
  const out = [];
  d.process([rec(X(1, 1)), Rec.control('$watermark', 5), rec(X(2, 2)), Rec.control('$window', { type: 'count' }), rec(X(20, 3))], out);
  assert.deepEqual(out.map(encodeValue), ['{"id":"x","t":1,"n":1}', '{"$kstream":{"watermark":5}}', '{"$kstream":{"window":{"type":"count"}}}', '{"id":"x","t":20,"n":3}']);

  const dec = new NdjsonDecoder(d.reads, new RecordErrors({ mode: 'fail' }, 'stdin'), { name: 'stdin', where: (p) => `stdin line ${p}` });
  const inRecs = [];
  dec.decode('{"id":"q","t":100,"big":{"deep":[1,2,3]}}\n{"id":"q","t":101,"big":null}\n{"t":102,"id":"r"}\n', 1, inRecs);
  assert.equal(inRecs[0].partial, true);
  const out2 = [];
  d.process(inRecs, out2);
  assert.deepEqual(out2.map(encodeValue), ['{"id":"q","t":100,"big":{"deep":[1,2,3]}}', '{"t":102,"id":"r"}']);
});

test('invalid times: skipped and counted as invalid-time without moving stream time; fail names the record; dlq keeps it', () => {
  const bad = [
    { id: 'a', t: 10, n: 1 }, { id: 'a', n: 2 }, { id: 'a', t: -5, n: 3 }, { id: 'b', t: 'next tuesday', n: 4 },
    { id: 'b', t: Infinity, n: 5 }, { id: 'c', t: '2026-02-30', n: 6 }, { id: 'a', t: 20, n: 7 }, { id: 'a', t: 21, n: 8 },
  ];
  const d = make({ by: 'r.id', within: 10, time: 'r.t' }, 'skip');
  assert.deepEqual(run(d, bad).map((v) => v.n), [1, 8]);
  assert.deepEqual(d.counters(), { duplicates: 1, 'invalid-time': 5, 'no-id': 0 });
  // without --time, a record lacking the record timestamp is an invalid time too (not the wall clock)
  const k = make({ by: 'r.id', within: 10 }, 'skip');
  assert.deepEqual(run(k, [rec({ id: 'a', n: 1 }, 1, 10), rec({ id: 'a', n: 2 }, 2), rec({ id: 'b', n: 3 }, 3, 11)]).map((v) => v.n), [1, 3]);
  assert.equal(k.counters()['invalid-time'], 1);

  const f = make({ by: 'r.id', within: 10, time: 'r.t' });
  const out = [];
  assert.throws(() => f.process(bad.slice(0, 3).map((v, i) => rec(v, i + 1)), out),
    (e) => e instanceof RuntimeError && /^record 2: invalid event time \(missing\) from --time `r\.t`/.test(e.message));
  assert.deepEqual(out.map((r) => r.value.n), [1]);

  // --time that throws, and a bad Kafka timestamp.
  const g = make({ by: 'r.id', within: 10, time: 'r.meta.t' }, 'skip');
  assert.deepEqual(run(g, [{ id: 'a', meta: { t: 1 } }, { id: 'b' }]).map((v) => v.id), ['a']);
  assert.equal(g.counters()['invalid-time'], 1);
  const h = make({ by: 'r.id', within: 10 }, 'skip');
  assert.deepEqual(run(h, [rec({ id: 'a' }, 1, -1), rec({ id: 'a' }, 2, 3)]).map((v) => v.id), ['a']);
  assert.equal(h.counters()['invalid-time'], 1);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kstream-dedupe-'));
  const file = path.join(dir, 'dlq.ndjson');
  const q = make({ by: 'r.id.x', within: 10, time: 'r.t' }, 'dlq', file);
  assert.deepEqual(run(q, [{ id: { x: 1 }, t: 'bad' }, { t: 1 }, { id: { x: 1 }, t: 2 }]).map((v) => v.t), [2]);
  const dl = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(dl.map((l) => [l.stage, l.source, l.original]), [
    ['dedupe', 'record 1', '{"id":{"x":1},"t":"bad"}'], ['dedupe', 'record 2', '{"t":1}'],
  ]);
  assert.match(dl[1].reason, /--by expression `r\.id\.x` threw TypeError/);
  assert.deepEqual(q.counters(), { duplicates: 0, 'invalid-time': 1, 'no-id': 0, 'dead-lettered': 1 });
  fs.rmSync(dir, { recursive: true });
});

/** A compacted changelog: the latest value per key, tombstones remove. */
function applyChanges(log, changes) {
  for (const [k, v] of changes) {
    if (v === null) log.delete(k);
    else log.set(k, v);
  }
}

test('changelog: drain reports changed ids, released ids as null, and stream time; only what changed', () => {
  const d = make({ by: 'r.id', within: 10, time: 'r.t' });
  assert.deepEqual(d.drainChanges(), []);
  run(d, [{ id: 'a', t: 1 }, { id: 'b', t: 2 }, { id: 'a', t: 3 }, { id: 1, t: 4 }]);
  assert.deepEqual(d.drainChanges(), [['a', 1], ['b', 2], ['\u00001', 4], [STREAM_TIME_KEY, 4]]);
  assert.deepEqual(d.drainChanges(), []);
  run(d, [{ id: 'a', t: 5 }]); // a duplicate: nothing to log, but stream time moved
  assert.deepEqual(d.drainChanges(), [[STREAM_TIME_KEY, 5]]);
  run(d, [{ id: 'c', t: 12 }]); // releases a@1 (12 > 1 + 10), not yet b@2
  assert.deepEqual(d.drainChanges(), [['c', 12], ['a', null], [STREAM_TIME_KEY, 12]]);
  run(d, [{ id: 'a', t: 13 }, { id: 'a', t: 14 }]); // a passes and is remembered again; b@2 released
  assert.deepEqual(d.drainChanges(), [['a', 13], ['b', null], [STREAM_TIME_KEY, 14]]);
  assert.deepEqual(d.stateSize, 3); // 1@4, c@12, a@13
});

test('drain/restore round trip: a restored stage continues exactly as the original, at every checkpoint', () => {
  const values = stream(3000, { disorder: 60, step: 2, ids: 40, seed: 77 });
  for (const cut of [0, 1, 500, 1234, 2999]) {
    const a = make({ by: 'r.id', within: 100, time: 'r.t' });
    const log = new Map();
    for (let i = 0; i < cut; i += 50) {
      run(a, values.slice(i, Math.min(i + 50, cut)));
      applyChanges(log, a.drainChanges());
    }
    // Every live entry and the stream time are in the log, nothing else.
    assert.equal(log.size, cut === 0 ? 0 : a.stateSize + 1);
    const b = make({ by: 'r.id', within: 100, time: 'r.t' });
    b.restore(log.entries());
    assert.equal(b.stateSize, a.stateSize);
    const rest = values.slice(cut);
    const outA = run(a, rest, 37);
    const outB = run(b, rest, 37);
    assert.deepEqual(outB, outA, `cut at ${cut}`);
    assert.deepEqual(b.drainChanges(), a.drainChanges());
  }
  // Stream time matters: a duplicate moved it past the newest remembered time, so x@95 is now too late to be
  // remembered and x@96 passes — as it does in the stage that never stopped.
  const orig = make({ by: 'r.id', within: 10, time: 'r.t' });
  run(orig, [{ id: 'a', t: 100 }, { id: 'a', t: 109 }]);
  const log = new Map();
  applyChanges(log, orig.drainChanges());
  assert.deepEqual([...log], [['a', 100], [STREAM_TIME_KEY, 109]]);
  const back = make({ by: 'r.id', within: 10, time: 'r.t' });
  back.restore(log);
  const next = [{ id: 'x', t: 95 }, { id: 'x', t: 96 }, { id: 'a', t: 110 }, { id: 'a', t: 111 }];
  assert.deepEqual(run(back, next), run(orig, next));
  assert.deepEqual(run(back, next).length, 2);
});

test('restore: replaces earlier state, ignores foreign values, releases what its stream time has passed', () => {
  const d = make({ by: 'r.id', within: 10, time: 'r.t' });
  run(d, [{ id: 'old', t: 1 }]);
  d.restore([['a', 50], ['b', 'nope'], ['c', 30], ['d', null], [STREAM_TIME_KEY, 45]]);
  assert.equal(d.stateSize, 1); // c@30 is past 45 − 10; 'old' is forgotten
  assert.deepEqual(d.drainChanges(), [['c', null]]);
  assert.deepEqual(run(d, [{ id: 'a', t: 60 }, { id: 'old', t: 45 }, { id: 'c', t: 46 }]).map((v) => v.id), ['old', 'c']);
  // No stream time in the log: the newest remembered time stands in for it.
  const e = make({ by: 'r.id', within: 10, time: 'r.t' });
  e.restore([['a', 50], ['b', 42]]);
  assert.equal(e.stateSize, 2);
  assert.deepEqual(run(e, [{ id: 'b', t: 41 }, { id: 'a', t: 61 }]).map((v) => v.t), [61]);
});

// --- through the CLI ------------------------------------------------------------------------------------------------

const toLines = (values) => values.map((v) => JSON.stringify(v) + '\n').join('');

test('CLI: piped and fused runs give byte-identical output, equal to the definition; counters on stderr', async () => {
  const values = stream(4000, { disorder: 30, step: 5, ids: 60, seed: 5 });
  const input = toLines(values);
  const want = toLines(reference(values, 200).filter((v) => v.n % 2 === 0));
  const stages = [['dedupe', '--by', 'r.id', '--within', '200ms', '--time', 'r.t'], ['filter', 'r.n % 2 === 0']];
  const fused = runSync([...stages[0], '+', ...stages[1]], input);
  const p = await piped(stages, input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.deepEqual(p.codes, [0, 0]);
  assert.equal(fused.stdout, want);
  assert.equal(p.stdout, want);
  const dups = values.length - reference(values, 200).length;
  assert.match(fused.stderr, new RegExp(`dedupe: duplicates=${dups}\\b`));
  assert.match(p.stderr[0], new RegExp(`dedupe: duplicates=${dups}\\b`));
});

test('CLI: between window and aggregate, watermark and window control lines pass; piped equals fused', async () => {
  const values = stream(3000, { disorder: 0, step: 7, ids: 15, seed: 11 });
  const input = toLines(values);
  const win = ['window', 'tumbling', '1s', '--time', 'r.t'];
  const dd = ['dedupe', '--by', 'r.id', '--within', '500ms', '--time', 'r.t'];
  const agg = ['aggregate', 'count', '--by', 'r.id'];
  const fused = runSync([...win, '+', ...dd, '+', ...agg], input);
  const p = await piped([win, dd, agg], input);
  assert.equal(fused.code, 0, fused.stderr);
  assert.equal(p.stdout, fused.stdout);
  // Counts per window equal the deduplicated input counted by hand.
  const counts = new Map();
  for (const v of reference(values, 500)) {
    const k = `${Math.floor(v.t / 1000) * 1000}|${v.id}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const got = fused.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.window);
  assert.equal(got.length, counts.size);
  for (const o of got) assert.equal(o.count, counts.get(`${o.window.start}|${o.key}`), JSON.stringify(o));
});

test('CLI: invalid time fails with one line and exit 1 after the good records; skip counts it', () => {
  const input = '{"id":1,"t":1}\n{"id":2,"t":"later"}\n{"id":1,"t":2}\n';
  const f = runSync(['dedupe', '--by', 'r.id', '--within', '1s', '--time', 'r.t'], input);
  assert.equal(f.code, 1);
  assert.equal(f.stdout, '{"id":1,"t":1}\n');
  assert.equal(f.stderr.trim().split('\n').length, 1);
  assert.match(f.stderr, /stdin line 2: invalid event time \(not a number of ms or an ISO-8601 time\) from --time `r\.t`: "later"/);
  const s = runSync(['dedupe', '--by', 'r.id', '--within', '1s', '--time', 'r.t', '--on-error', 'skip'], input);
  assert.equal(s.code, 0);
  assert.equal(s.stdout, '{"id":1,"t":1}\n');
  assert.match(s.stderr, /dedupe: duplicates=1 invalid-time=1/);
  const u = runSync(['dedupe', '--within', '1s'], '');
  assert.equal(u.code, 2);
  assert.equal(u.stderr.trim().split('\n').length, 1);
});
