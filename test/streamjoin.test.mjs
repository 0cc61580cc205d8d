// The windowed stream–stream join (`join stream:<topic>`, `join stream:file:<path>`): SEMANTICS.md "Tables and
// joins", examples 15 and 16, on the pure two-input core (operators/streamjoin.ts) and through the CLI piped and
// fused with a file side; --outer, --grace, late records, many-to-many matches, release of held records, and one
// result whatever order the two inputs arrive in. test/it/join.test.mjs joins a real topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StreamJoin } from '../dist/src/operators/streamjoin.js';
import { StreamJoinStage } from '../dist/src/operators/streamjoin-stage.js';
import { compileSelect } from '../dist/src/operators/join.js';
import { compileExpr } from '../dist/src/operators/expr.js';
import { RecordErrors } from '../dist/src/pipeline/onerror.js';
import { Rec } from '../dist/src/pipeline/record.js';
import { piped, runSync } from './helpers/spawn.mjs';

/** `A@10` on the left, `a@15` on the right: one letter's case says its side, all with the join key `k`. */
function core({ within = 10, before = within, after = within, grace = 0, mode = 'inner' } = {}) {
  const late = [];
  const j = new StreamJoin({ beforeMs: before, afterMs: after, graceMs: grace, keepLeft: mode !== 'inner', keepRight: mode === 'outer', onLate: (side, d) => late.push(`${side}:${d}`) });
  const out = [];
  const emit = (l, r, t) => out.push(`(${l ? l.data : 'null'},${r ? r.data : 'null'})@${t}`);
  return {
    j,
    out,
    late,
    emit,
    /** `L A@10` or `R a@15` (key k), or `L A:x@10` for key x; pushed, then whatever may be taken is. */
    step(s) {
      const m = /^([LR]) (\w+)(?::(\w+|null))?@(\d+)$/.exec(s);
      const key = m[3] === undefined ? 'k' : m[3] === 'null' ? null : m[3];
      j.push(m[1] === 'L' ? 'l' : 'r', { t: Number(m[4]), key, data: m[2] });
      j.drain(emit);
      return this;
    },
    run(...steps) {
      for (const s of steps) this.step(s);
      return this;
    },
    finish() {
      j.finish(emit);
      return out;
    },
  };
}

test('example 15: inner, within 10 — (A,a)@15; b@21 matches nothing of A; B@12 matches a and b', () => {
  const c = core().run('L A@10', 'R a@15', 'R b@21', 'L B@12');
  assert.deepEqual(c.finish(), ['(A,a)@15', '(B,a)@15', '(B,b)@21']);
  assert.deepEqual(c.j.counts, { matched: 3, unmatched: 0, lateLeft: 0, lateRight: 0, noKey: 0 });
  // taken in event-time order, B@12 is not late although b@21 had arrived before it
  assert.deepEqual(c.late, []);
});

test('example 15, each output as soon as the other input lets it: the left input ended after B', () => {
  const c = core().run('L A@10', 'R a@15');
  // a@15 waits for the left input to show a record past 15: nothing yet
  assert.deepEqual(c.out, []);
  c.run('R b@21', 'L B@12');
  assert.deepEqual(c.out, []);
  c.j.end('l');
  c.j.drain(c.emit);
  assert.deepEqual(c.out, ['(A,a)@15', '(B,a)@15', '(B,b)@21']);
  assert.deepEqual(c.finish(), ['(A,a)@15', '(B,a)@15', '(B,b)@21']);
});

test('example 16: left, within 10, grace 0 — L A@10, R a@15 → only (A,a)@15, no (A,null) first', () => {
  const c = core({ mode: 'left' }).run('L A@10', 'R a@15');
  assert.deepEqual(c.finish(), ['(A,a)@15']);
  assert.equal(c.j.counts.unmatched, 0);
});

test('left: an unmatched record goes out once the watermark passes t + after, not before; at end of input otherwise', () => {
  const c = core({ mode: 'left' }).run('L A@10', 'R x:y@20', 'L C:c@20');
  c.j.end('l');
  c.j.drain(c.emit);
  // stream time 20: a right record at 20 could still match A (10 + 10): nothing yet
  assert.deepEqual(c.out, []);
  c.step('R x:z@21');
  assert.deepEqual(c.out, ['(A,null)@10']);
  assert.deepEqual(c.finish(), ['(A,null)@10', '(C,null)@20']);
  // alone, at end of input
  assert.deepEqual(core({ mode: 'left' }).run('L A@10').finish(), ['(A,null)@10']);
});

test('outer: unmatched records of both sides, each once its window has closed; before/after differ per side', () => {
  // before 2, after 5: a left record at tl matches tr in [tl-2, tl+5]; a right one at tr, tl in [tr-5, tr+2]
  const c = core({ before: 2, after: 5, mode: 'outer' });
  c.run('L A@10', 'R b@14', 'R a@16', 'L B@20');
  // A@10 matched b@14 (within [8,15]); a@16 (tl in [11,18]) matches nothing; A released when W > 15, a when W > 18
  assert.deepEqual(c.out, ['(A,b)@14']);
  c.j.end('l');
  c.j.drain(c.emit);
  assert.deepEqual(c.out, ['(A,b)@14']);
  c.step('R x:d@19');
  assert.deepEqual(c.out, ['(A,b)@14', '(null,a)@16']);
  // at end of input, in the order of their release points: x (19 + 2) before B (20 + 5)
  assert.deepEqual(c.finish(), ['(A,b)@14', '(null,a)@16', '(null,x)@19', '(B,null)@20']);
  assert.deepEqual(c.j.counts, { matched: 1, unmatched: 3, lateLeft: 0, lateRight: 0, noKey: 0 });
});

test('grace: a record behind the watermark (stream time − grace) is late — dropped, counted, handed to --late', () => {
  for (const [grace, want, late] of [
    [0, ['(A,null)@10', '(C,null)@28'], ['r:a']],
    [10, ['(A,a)@20', '(C,null)@28'], []],
  ]) {
    const c = core({ mode: 'left', grace });
    // the right input is idle (--max-idle): left records go on without it
    c.j.setIdle('r', true);
    c.run('L A@10', 'L C:c@28');
    c.j.setIdle('r', false);
    // a@20 comes when stream time is 28: with grace 0 the watermark is 28 (late), with grace 10 it is 18
    c.step('R a@20');
    assert.deepEqual(c.finish(), want, `grace ${grace}`);
    assert.deepEqual(c.late, late);
    assert.equal(c.j.counts.lateRight, late.length);
  }
  // a late record never contradicts an output: A's (A,null) went out at watermark 21, and a right record that
  // could have matched A (tr ≤ 20) is behind that watermark
  const c = core({ mode: 'left', grace: 0 });
  c.j.setIdle('r', true);
  c.run('L A@10', 'L B:b@21');
  assert.deepEqual(c.out, ['(A,null)@10']);
  c.j.setIdle('r', false);
  c.step('R a@20');
  assert.deepEqual(c.finish(), ['(A,null)@10', '(B,null)@21']);
  assert.deepEqual(c.late, ['r:a']);
});

test('window bounds are inclusive at both ends', () => {
  const c = core({ within: 5 }).run('L A@10', 'R a@5', 'R b@15', 'R c@4', 'R d@16');
  assert.deepEqual(c.finish().sort(), ['(A,a)@10', '(A,b)@15']);
});

test('many-to-many: every pair within the window, in the order the held records were taken', () => {
  const c = core().run('L A1@10', 'L A2@11', 'R a1@12', 'R a2@13', 'L A3@30');
  assert.deepEqual(c.finish(), ['(A1,a1)@12', '(A2,a1)@12', '(A1,a2)@13', '(A2,a2)@13']);
  assert.equal(c.j.counts.matched, 4);
});

test('null join keys: inner drops them (no-key); left and outer emit them alone when taken', () => {
  assert.deepEqual(core().run('L A:null@10', 'R a:null@10').finish(), []);
  const inner = core().run('L A:null@10', 'R a:null@10');
  inner.finish();
  assert.equal(inner.j.counts.noKey, 2);
  assert.deepEqual(core({ mode: 'outer' }).run('L A:null@10', 'R a:null@10').finish(), ['(A,null)@10', '(null,a)@10']);
});

test('held records are released as the watermark passes them: state is bounded by the window and grace', () => {
  const c = core({ within: 10, grace: 5, mode: 'left' });
  const N = 20_000;
  let max = 0;
  for (let t = 0; t < N; t++) {
    c.step(`L L${t}:k${t % 7}@${t}`);
    c.step(`R r${t}:k${(t + 3) % 7}@${t}`);
    max = Math.max(max, c.j.size);
  }
  // a record is held while the watermark (t − 5) has not passed its time + 10: 16 times, two records each
  assert.ok(max <= 2 * 17, `held at most ${max}`);
  const out = c.finish();
  assert.equal(c.j.size, 0);
  // every pair within 10 of each other with equal keys, counted the slow way
  let pairs = 0;
  for (let t = 0; t < N; t++) for (let u = Math.max(0, t - 10); u <= Math.min(N - 1, t + 10); u++) if (t % 7 === (u + 3) % 7) pairs++;
  assert.equal(c.j.counts.matched, pairs);
  assert.equal(c.j.counts.unmatched, 0);
  assert.equal(out.length, c.j.counts.matched + c.j.counts.unmatched);
});

/** A seeded PRNG (mulberry32). */
function rng(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Feeds two inputs to a fresh join in one random interleaving: batches of random size from either side, drains at
 * random points, each side's end signalled when it has delivered everything (or only at finish).
 */
function interleaved(left, right, opts, rand) {
  const j = new StreamJoin(opts);
  const out = [];
  const emit = (l, r, t) => out.push(`${l ? l.data : '-'}|${r ? r.data : '-'}@${t}`);
  let i = 0;
  let k = 0;
  const signalEnd = rand() < 0.5;
  while (i < left.length || k < right.length) {
    const fromLeft = k >= right.length || (i < left.length && rand() < 0.5);
    const n = 1 + Math.floor(rand() * 4);
    for (let m = 0; m < n; m++) {
      if (fromLeft && i < left.length) j.push('l', left[i++]);
      else if (!fromLeft && k < right.length) j.push('r', right[k++]);
    }
    if (signalEnd && i === left.length) j.end('l');
    if (signalEnd && k === right.length) j.end('r');
    if (rand() < 0.7) j.drain(emit);
  }
  j.finish(emit);
  return { out, counts: { ...j.counts } };
}

function streams(rand, n, disorder) {
  const make = (side) => {
    const xs = [];
    let t = 0;
    for (let i = 0; i < n; i++) {
      t += Math.floor(rand() * 4);
      const jitter = disorder ? Math.floor(rand() * disorder) : 0;
      xs.push({ t: Math.max(0, t - jitter), key: `k${Math.floor(rand() * 3)}`, data: `${side}${i}` });
    }
    return xs;
  };
  return [make('L'), make('R')];
}

test('one result whatever order the inputs arrive in: 200 interleavings of in-order inputs give the same outputs in the same order', () => {
  const rand = rng(7);
  for (const mode of ['inner', 'left', 'outer']) {
    const [left, right] = streams(rand, 60, 0);
    const opts = { beforeMs: 4, afterMs: 6, graceMs: 2, keepLeft: mode !== 'inner', keepRight: mode === 'outer' };
    const want = interleaved(left, right, opts, () => 0.99);
    assert.ok(want.out.length > 20, `${mode}: ${want.out.length} outputs`);
    for (let s = 0; s < 200; s++) {
      const got = interleaved(left, right, opts, rng(1000 + s));
      assert.deepEqual(got.out, want.out, `${mode}, interleaving ${s}`);
    }
  }
});

test('inputs out of order within themselves: every interleaving gives the same set of results and the same late counts', () => {
  const rand = rng(11);
  for (const mode of ['inner', 'outer']) {
    const [left, right] = streams(rand, 60, 5);
    const opts = { beforeMs: 5, afterMs: 5, graceMs: 3, keepLeft: mode !== 'inner', keepRight: mode === 'outer' };
    const want = interleaved(left, right, opts, () => 0.99);
    for (let s = 0; s < 200; s++) {
      const got = interleaved(left, right, opts, rng(5000 + s));
      assert.deepEqual([...got.out].sort(), [...want.out].sort(), `${mode}, interleaving ${s}`);
      assert.deepEqual(got.counts, want.counts);
    }
  }
});

// --- the stage: records, the side read by the stage itself, output shapes ---

/** A side input whose rows the test hands over: `rows` first, caught up with the last; more with `push`. */
function sideOf(rows = [], { follows = false, caughtUp = true } = {}) {
  const queue = [{ rows, caughtUp }];
  let wake;
  let closed = false;
  return {
    name: 'stream:pay',
    follows,
    push(more, up = true) {
      queue.push({ rows: more, caughtUp: up });
      wake?.();
    },
    async *batches() {
      for (;;) {
        while (queue.length) yield queue.shift();
        if (closed || !follows) return;
        await new Promise((r) => (wake = r));
      }
    },
    async close() {
      closed = true;
      wake?.();
    },
  };
}

function rec(key, value, ts) {
  const r = new Rec(value, JSON.stringify(value), false, ts);
  r.key = key;
  r.ts = ts;
  return r;
}

function stageOf(side, { within = 10, mode = 'inner', select, maxIdle, clock, on = 'key', sideTime, rightOn } = {}) {
  return new StreamJoinStage({
    side,
    on: compileExpr(on, 'join key (--on)'),
    rightOn: rightOn && compileExpr(rightOn, '--right-on'),
    sideTime: sideTime && compileExpr(sideTime, '--side-time'),
    beforeMs: within,
    afterMs: within,
    graceMs: 0,
    mode,
    as: 'pay',
    select: select && compileSelect(select),
    maxIdleMs: maxIdle,
    clock,
    errors: new RecordErrors({ mode: 'fail' }, 'join'),
    timeErrors: new RecordErrors({ mode: 'fail' }, 'join'),
  });
}

const tick = () => new Promise((r) => setImmediate(r));
const values = (out) => out.filter((r) => r.ctl === undefined).map((r) => [r.value, r.key, r.ts]);

test('stage, example 15: the side read by the stage, its rows keyed and timed by their records; --select sees r, o, key, okey, ts, ots', async () => {
  const side = sideOf([{ key: 'c1', value: '"a"', ts: 15, lazy: true }, { key: 'c1', value: 'b', ts: 21 }, { key: 'c1', value: null, ts: 22 }]);
  const st = stageOf(side, { select: '({r, o, key, okey, ts, ots})' });
  await st.open();
  const out = [];
  st.process([rec('c1', 'A', 10), rec('c1', 'B', 12)], out);
  // the file side has ended: the stream holds back nothing, a@15 waits for the stream to pass 15 or end
  await st.settle();
  st.end(out);
  assert.deepEqual(values(out), [
    [{ r: 'A', o: 'a', key: 'c1', okey: 'c1', ts: 10, ots: 15 }, 'c1', 15],
    [{ r: 'B', o: 'a', key: 'c1', okey: 'c1', ts: 12, ots: 15 }, 'c1', 15],
    [{ r: 'B', o: 'b', key: 'c1', okey: 'c1', ts: 12, ots: 21 }, 'c1', 21],
  ]);
  // a side tombstone is no record
  assert.deepEqual(st.counters(), { matched: 3, late: 0, 'side-null-value': 1 });
  await st.close();
});

test('stage: default output {...r, <as>: o} keeps the record\'s text; --outer side records alone are {<as>: o}, keyed by their own key', async () => {
  const side = sideOf([{ key: 'x', value: { p: 1 }, ts: 5 }, { key: 'c1', value: { p: 2 }, ts: 11 }]);
  const st = stageOf(side, { mode: 'outer' });
  await st.open();
  const out = [];
  const a = new Rec({ n: 1.5 }, '{"n":1.50}', false, 1);
  a.key = 'c1';
  a.ts = 10;
  st.process([a, rec('c2', { n: 2 }, 40)], out);
  await st.settle();
  st.end(out);
  // the pair when c1@11 is taken; x@5 alone once c2@40 moves the watermark past 5 + 10; c2 alone at the end
  assert.deepEqual(out.map((r) => [r.raw ?? JSON.stringify(r.value), r.key, r.ts]), [
    ['{"n":1.50,"pay":{"p":2}}', 'c1', 11],
    ['{"pay":{"p":1}}', 'x', 5],
    ['{"n":2,"pay":null}', 'c2', 40],
  ]);
  await st.close();
});

test('stage: side records that come while the stream waits are joined at the next tick; --max-idle lets a quiet stream stop holding them', async () => {
  let now = 1000;
  const side = sideOf([], { follows: true, caughtUp: false });
  const st = stageOf(side, { mode: 'left', maxIdle: 500, clock: () => now });
  await st.open();
  const out = [];
  st.process([rec('c1', { o: 1 }, 10)], out);
  // the side has shown nothing: the stream record waits
  assert.deepEqual(values(out), []);
  side.push([{ key: 'c1', value: { p: 1 }, ts: 12 }], false);
  await tick();
  await tick();
  st.tick(now, out);
  // the side showed 12 ≥ 10: the record is taken; the side record waits for the stream to pass 12
  assert.deepEqual(values(out), []);
  now += 600;
  st.tick(now, out);
  // the stream has been quiet for 600 ms: the side record goes in and matches
  assert.deepEqual(values(out), [[{ o: 1, pay: { p: 1 } }, 'c1', 12]]);
  await st.close();
});

test('CLI, examples 15 and 16 with a file side: piped and fused give the same bytes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-ssjoin-'));
  const right = path.join(dir, 'pay.ndjson');
  fs.writeFileSync(right, '{"id":"k","v":"a","t":15}\n{"id":"k","v":"b","t":21}\n');
  const left = '{"id":"k","v":"A","t":10}\n{"id":"k","v":"B","t":12}\n';
  const join = ['join', `stream:file:${right}`, '--right-on', 'r.id', '--side-time', 'r.t', '--on', 'r.id', '--time', 'r.t', '--within', '10ms'];
  const both = async (args, input) => {
    const [p, f] = await Promise.all([piped([args], input), piped([['map', 'r', '+', ...args, '+', 'filter', 'true']], input)]);
    assert.deepEqual(p.codes, [0], p.stderr[0]);
    assert.deepEqual(f.codes, [0], f.stderr[0]);
    assert.equal(f.stdout, p.stdout);
    return p;
  };
  // example 15, inner
  const ex15 = await both([...join, '--select', '[r.v, o.v]'], left);
  assert.equal(ex15.stdout, '["A","a"]\n["B","a"]\n["B","b"]\n');
  assert.match(ex15.stderr[0], /join: matched=3\n/);
  // example 16, left, grace 0: only the pair
  fs.writeFileSync(right, '{"id":"k","v":"a","t":15}\n');
  const ex16 = await both([...join, '--left', '--grace', '0', '--as', 'pay'], '{"id":"k","v":"A","t":10}\n');
  assert.equal(ex16.stdout, '{"id":"k","v":"A","t":10,"pay":{"id":"k","v":"a","t":15}}\n');
  // and the record alone when nothing matches
  const alone = await both([...join, '--left', '--as', 'pay'], '{"id":"z","v":"A","t":10}\n');
  assert.equal(alone.stdout, '{"id":"z","v":"A","t":10,"pay":null}\n');
  fs.rmSync(dir, { recursive: true });
});

test('CLI: --outer, --late and counters; a {key, value} file keyed by its lines with --side-time', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-ssjoin-'));
  const right = path.join(dir, 'pay.ndjson');
  const late = path.join(dir, 'late.ndjson');
  fs.writeFileSync(right, '{"key":"k","value":{"v":"a","t":15}}\n{"key":"q","value":{"v":"q","t":16}}\n{"key":"k","value":{"v":"old","t":1}}\n');
  const input = '{"id":"k","v":"A","t":10}\n{"id":"k","v":"Z","t":40}\n';
  const r = runSync(['join', `stream:file:${right}`, '--side-time', 'r.t', '--on', 'r.id', '--time', 'r.t', '--within', '10ms', '--outer', '--late', late, '--select', '[r && r.v, o && o.v]'], input);
  assert.equal(r.code, 0, r.stderr);
  // old@1 is taken after a@15 and q@16 (the file is one input, in its order): behind the watermark, late
  assert.equal(r.stdout, '["A","a"]\n[null,"q"]\n["Z",null]\n');
  assert.match(r.stderr, /join: matched=1 unmatched=2 late=1\n/);
  assert.equal(fs.readFileSync(late, 'utf8'), '{"key":"k","value":{"v":"old","t":1},"timestamp":1}\n');
  fs.rmSync(dir, { recursive: true });
});

test('CLI: usage errors are one line with exit 2 (also --exactly-once, which the join does not support yet)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-ssjoin-'));
  const right = path.join(dir, 'pay.ndjson');
  fs.writeFileSync(right, '{"id":"k","t":1}\n');
  const side = `stream:file:${right}`;
  for (const [a, re] of [
    [['join', side, '--on', 'r.id', '--time', 'r.t', '--side-time', 'r.t'], /^kstream: `join stream:file:.*` needs a join window — give --within <dur>/],
    [['join', side, '--on', 'r.id', '--time', 'r.t', '--within', '1s'], /^kstream: `stream:file:.*` is a file, whose records have no timestamps — give the side's event time with --side-time <expr>/],
    [['join', side, '--on', 'r.id', '--side-time', 'r.t', '--within', '1s'], /^kstream: `join stream:file:.*` needs an event time, and records read from a pipe carry no timestamp/],
    [['join', side, '--on', 'r.id', '--time', 'r.t', '--side-time', 'r.t', '--within', '1s', '--left', '--outer'], /^kstream: --left and --outer both say which unmatched records go out/],
    [['join', side, '--on', 'r.id', '--time', 'r.t', '--side-time', 'r.t', '--within', '1s', '--as-of'], /^kstream: --as-of is for table sides/],
    [['join', `file:${right}`, '--key', 'r.id', '--on', 'r.id', '--within', '1s'], /^kstream: --within applies to stream: sides/],
    [['join', `file:${right}`, '--key', 'r.id', '--on', 'r.id', '--outer'], /^kstream: --outer applies to stream: sides/],
    [['join', side, '--on', 'r.id', '--time', 'r.t', '--side-time', 'r.t', '--within', 'soon'], /^kstream: .*--within/],
    [['table', 'stream:pay'], /^kstream: `stream:` names a second stream for `join`, not a table/],
    [['consume', 'orders', '--group', 'g', '--exactly-once', '+', 'join', 'stream:pay', '--within', '1s', '+', 'produce', 'out'], /^kstream: `join stream:pay` cannot run under --exactly-once yet: .* — drop --exactly-once: after consume --group the join is at-least-once/],
  ]) {
    const r = runSync(a, '{"id":"k","t":1}\n', { env: { KSTREAM_BROKERS: '127.0.0.1:1' } });
    assert.equal(r.code, 2, `${a.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, a.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  fs.rmSync(dir, { recursive: true });
});

test('README recipe: correlate orders with payments from files, as pasted', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-ssjoin-'));
  fs.writeFileSync(path.join(dir, 'orders.ndjson'), ['{"id":"o1","ts":"2026-01-01T10:00:00Z"}', '{"id":"o2","ts":"2026-01-01T10:05:00Z"}', '{"id":"o3","ts":"2026-01-01T11:00:00Z"}'].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'payments.ndjson'), ['{"order_id":"o1","amount":5,"ts":"2026-01-01T10:09:00Z"}', '{"order_id":"o2","amount":7,"ts":"2026-01-01T10:30:00Z"}', '{"order_id":"o3","amount":9,"ts":"2026-01-01T10:55:00Z"}'].join('\n') + '\n');
  const r = runSync('$KS join stream:file:payments.ndjson --right-on r.order_id --side-time r.ts --on r.id --time r.ts --within 10m < orders.ndjson', { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  // o2's payment came 25 minutes later: no pair; o3's 5 minutes before it: a pair, at the order's time
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
    { id: 'o1', ts: '2026-01-01T10:00:00Z', payments: { order_id: 'o1', amount: 5, ts: '2026-01-01T10:09:00Z' } },
    { id: 'o3', ts: '2026-01-01T11:00:00Z', payments: { order_id: 'o3', amount: 9, ts: '2026-01-01T10:55:00Z' } },
  ]);
  fs.rmSync(dir, { recursive: true });
});

test('stage: a side far ahead of the stream is read no further while 50,000 of its records wait; the rest comes as the stream moves, and before the end', async () => {
  let handed = 0;
  const batch = (from) => Array.from({ length: 10_000 }, (_, i) => ({ key: 'k', value: { i: from + i }, ts: from + i }));
  const side = {
    name: 'stream:pay',
    follows: true,
    async *batches() {
      for (let b = 0; b < 10; b++) {
        handed += 10_000;
        yield { rows: batch(b * 10_000), caughtUp: b === 9 };
      }
    },
    async close() {},
  };
  const st = stageOf(side, { within: 0, mode: 'inner' });
  await st.open();
  for (let i = 0; i < 20; i++) await tick();
  // the stream has shown nothing: the side paused once more than 50,000 of its records waited
  assert.equal(handed, 60_000);
  assert.equal(st.join.waitingRight(), 60_000);
  const out = [];
  // a stream record past them lets them be taken (they match nothing: within 0, other times)
  st.process([rec('k', { o: 1 }, 200_000)], out);
  assert.ok(st.join.waitingRight() <= 25_000, `${st.join.waitingRight()} waiting`);
  for (let i = 0; i < 20; i++) await tick();
  assert.ok(handed > 60_000, `${handed} handed over`);
  await st.settle();
  assert.equal(handed, 100_000);
  st.end(out);
  assert.deepEqual(values(out), []);
  assert.equal(st.join.size, 0);
  await st.close();
});

/** A side of `rows` (caught up at once) that honours a checkpointed position: the rows before it are not handed over. */
function resumableSide(rows) {
  return {
    name: 'stream:pay',
    follows: false,
    resumeAt: undefined,
    async *batches() {
      yield { rows: rows.slice(this.resumeAt?.rows ?? 0), caughtUp: true };
    },
    async close() {},
  };
}

test('checkpoint and restore: a join stopped after any batch and restored from its changelog entries gives the rest of the uninterrupted output', async () => {
  const rand = rng(3);
  const sideRows = [];
  const left = [];
  let t = 0;
  for (let i = 0; i < 40; i++) {
    t += Math.floor(rand() * 5);
    left.push(rec(`k${Math.floor(rand() * 4)}`, { i, raw: 1.5 }, t));
    sideRows.push({ key: `k${Math.floor(rand() * 4)}`, value: { j: i }, ts: Math.max(0, t + Math.floor(rand() * 8) - 4) });
  }
  const batches = [];
  for (let i = 0; i < left.length; i += 5) batches.push(i);
  const text = (out) => out.map((r) => `${r.raw ?? JSON.stringify(r.value)}|${r.key}@${r.ts}`);
  const clone = (r) => {
    const c = new Rec(structuredClone(r.value), r.raw, false, r.pos);
    c.key = r.key;
    c.ts = r.ts;
    return c;
  };
  const run = async (st, from, to, out) => {
    for (let b = from; b < to; b += 5) st.process(left.slice(b, b + 5).map(clone), out);
  };
  const make = () => stageOf(resumableSide(sideRows), { within: 6, mode: 'outer' });
  // uninterrupted (a checkpointing run: restored empty first, so it tracks its changes)
  const whole = make();
  whole.restore([]);
  await whole.open();
  const all = [];
  await run(whole, 0, left.length, all);
  await whole.settle();
  whole.end(all);
  assert.ok(all.length > 30, `${all.length} outputs`);
  for (const stopAfter of batches) {
    const a = make();
    a.restore([]);
    await a.open();
    const out = [];
    await run(a, 0, stopAfter, out);
    // a checkpoint into a compacted changelog: the latest value per key, null deletes
    const log = new Map();
    for (const [k, v] of a.drainChanges()) {
      if (v === null) log.delete(k);
      else log.set(k, JSON.parse(JSON.stringify(v)));
    }
    a.suspend();
    await a.close();
    const b = make();
    b.restore([...log]);
    await b.open();
    await run(b, stopAfter, left.length, out);
    await b.settle();
    b.end(out);
    assert.deepEqual(text(out), text(all), `stopped after ${stopAfter} records`);
    await b.close();
  }
  // state written under other arguments is refused
  const other = stageOf(resumableSide(sideRows), { within: 7, mode: 'outer' });
  const sig = make().drainChanges().find(([k]) => k === '$sig')[1];
  assert.throws(() => other.restore([['$sig', sig]]), /the saved state of `join` was made with other arguments/);
});
