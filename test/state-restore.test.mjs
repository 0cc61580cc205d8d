// Window and aggregate state through a changelog: a run checkpointed after every batch, stopped at any batch and
// restored into fresh stages from the compacted changelog (through the changelog's JSON, as through Kafka), gives exactly the
// output of an uninterrupted run — for every window type, every aggregate function, both emit modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStateful } from '../dist/src/pipeline/stage.js';
import { stateParse, stateStringify } from '../dist/src/pipeline/statejson.js';
import { makeAggregate, makeWindow, rec, data } from './helpers/windowing.mjs';

const FNS = ['count', 'sum(r.v)', 'avg(r.v)', 'min(r.v)', 'max(r.v)', 'first(r.u)', 'last(r.u)', 'distinct(r.u)', 'stddev(r.v)', 'p50(r.v)', 'p99(r.v)', 'topk(r.u, 2)', 'count(r.opt)'];

/** Deterministic input: keys a..e, event times mostly rising with some disorder, values spread for percentiles. */
function input(n, seed = 7) {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = [];
  let t = 1_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 400);
    const late = rnd() < 0.1 ? Math.floor(rnd() * 3000) : 0;
    const v = { ts: t - late, k: 'abcde'[Math.floor(rnd() * 5)], v: Math.round(rnd() * 100000) / 100, u: 'u' + Math.floor(rnd() * 9) };
    if (rnd() < 0.3) v.opt = 1;
    out.push(v);
  }
  return out;
}

const CASES = [
  { name: 'tumbling by key, grace', win: ['tumbling', '5s'], wopts: { time: 'r.ts', grace: '2s' }, aopts: { by: 'r.k' } },
  { name: 'tumbling, no key, one big window for histograms', win: ['tumbling', '10m'], wopts: { time: 'r.ts' }, aopts: {} },
  { name: 'hopping', win: ['hopping', '6s'], wopts: { time: 'r.ts', every: '2s', grace: '1s' }, aopts: { by: 'r.k' } },
  { name: 'session', win: ['session', '300ms'], wopts: { time: 'r.ts', by: 'r.k', grace: '1s' }, aopts: {} },
  { name: 'sliding', win: ['sliding', '1s'], wopts: { time: 'r.ts', by: 'r.k', grace: '3s' }, aopts: {} },
  { name: 'count', win: ['count', '7'], wopts: { by: 'r.k' }, aopts: {} },
  { name: 'rolling', win: undefined, aopts: { by: 'r.k', emit: 'end' } },
];

function stages(c, emit) {
  const list = [];
  if (c.win) list.push(makeWindow(c.win, c.wopts));
  const aopts = { ...c.aopts };
  if (emit) aopts.emit = emit;
  list.push(makeAggregate(FNS, aopts));
  return list;
}

function push(list, batch, out, start = 0) {
  let carry = batch;
  for (let i = start; i < list.length; i++) {
    const o = [];
    list[i].process(carry, o);
    carry = o;
  }
  out.push(...carry);
}

function finish(list, out) {
  let carry = [];
  for (const st of list) {
    const o = [];
    if (carry.length) st.process(carry, o);
    st.end(o);
    carry = o;
  }
  out.push(...carry);
}

/** Compacted changelog of each stage: latest value per key, removed on null; values through JSON like Kafka. */
function checkpoint(list, logs) {
  list.forEach((st, i) => {
    for (const [k, v] of st.drainChanges()) {
      if (v === null || v === undefined) logs[i].delete(k);
      else logs[i].set(k, stateParse(stateStringify(v)));
    }
  });
}

const batchesOf = (values, size) => {
  const res = [];
  for (let i = 0; i < values.length; i += size) res.push(values.slice(i, i + size).map((v, j) => rec(v, i + j + 1, v.ts)));
  return res;
};

for (const c of CASES) {
  for (const emit of c.win ? [undefined, 'update'] : [undefined, 'update']) {
    test(`state restore: ${c.name}${emit ? `, --emit ${emit}` : ''} — stop after any batch, restore, same output`, () => {
      const values = input(700);
      const whole = [];
      const ref = stages(c, emit);
      for (const b of batchesOf(values, 9)) push(ref, b, whole);
      finish(ref, whole);
      const expected = data(whole);
      assert.ok(expected.length >= 1, 'the case produces results');

      const nb = batchesOf(values, 9).length;
      for (const cut of [1, 2, 5, Math.floor(nb / 3), Math.floor(nb / 2), nb - 3, nb - 1]) {
        const logs = [new Map(), new Map()];
        let run = stages(c, emit);
        assert.ok(run.every(isStateful), 'window and aggregate are stateful stages');
        run.forEach((st, i) => st.restore(logs[i]));
        const out = [];
        const batches = batchesOf(values, 9);
        for (let b = 0; b < cut; b++) {
          push(run, batches[b], out);
          checkpoint(run, logs);
        }
        // stopped (SIGTERM or kill -9 after the checkpoint): nothing flushed; a new process restores
        run.forEach((st) => st.suspend?.());
        run = stages(c, emit);
        run.forEach((st, i) => st.restore([...logs[i]]));
        for (let b = cut; b < batches.length; b++) {
          push(run, batches[b], out);
          checkpoint(run, logs);
        }
        finish(run, out);
        checkpoint(run, logs);
        assert.deepEqual(data(out), expected, `cut after batch ${cut} of ${nb}`);
        // The run ended: every window was emitted and its state removed, only the markers stay.
        for (const [i, log] of logs.entries()) {
          const left = [...log.keys()].filter((k) => !k.startsWith('$'));
          if (!c.win) continue; // rolling aggregates keep their keys
          assert.deepEqual(left, [], `stage ${i} state left after the end`);
        }
      }
    });
  }
}

test('state restore: the changelog stays bounded by open windows, not by records', () => {
  const c = CASES[0];
  const logs = [new Map(), new Map()];
  const run = stages(c);
  run.forEach((st, i) => st.restore(logs[i]));
  const out = [];
  let peak = 0;
  for (const b of batchesOf(input(3000), 20)) {
    push(run, b, out);
    checkpoint(run, logs);
    peak = Math.max(peak, logs[1].size);
  }
  // 5 keys × a few open 5-second windows (2 s grace), plus the `$agg` entry
  assert.ok(peak <= 5 * 4 + 1, `aggregate changelog peaked at ${peak} live keys`);
  assert.ok(data(out).length > 100);
});

test('state restore: an aggregate restored from a windowed pipeline refuses a changed window spec', () => {
  const logs = [new Map(), new Map()];
  const run = stages(CASES[0]);
  run.forEach((st, i) => st.restore(logs[i]));
  push(run, batchesOf(input(50), 50)[0], []);
  checkpoint(run, logs);
  const agg = makeAggregate(FNS, { by: 'r.k' });
  agg.restore([...logs[1]]);
  const w = makeWindow(['tumbling', '7s'], { time: 'r.ts' });
  const mid = [];
  w.process([rec({ ts: 5, k: 'a', v: 1, u: 'x' })], mid);
  assert.throws(() => agg.process(mid, []), /two different `\$window` specs/);
});

test('state restore: changed window or aggregate arguments are refused, not silently reused', () => {
  const logs = [new Map(), new Map()];
  const run = stages(CASES[0]);
  run.forEach((st, i) => st.restore(logs[i]));
  push(run, batchesOf(input(50), 50)[0], []);
  checkpoint(run, logs);
  const hint = /use a new --group or --state-topic/;
  assert.throws(() => makeAggregate(['sum(r.v) as count'], { by: 'r.k' }).restore([...logs[1]]), (e) => /saved state of `aggregate` was made with other arguments/.test(e.message) && hint.test(e.hint));
  assert.throws(() => makeAggregate(FNS, { by: 'r.u' }).restore([...logs[1]]), /saved state of `aggregate`/);
  assert.throws(() => makeAggregate(FNS, { by: 'r.k', emit: 'update' }).restore([...logs[1]]), /saved state of `aggregate`/);
  assert.throws(() => makeWindow(['tumbling', '7s'], { time: 'r.ts', grace: '2s' }).restore([...logs[0]]), /saved state of `window` was made with other arguments/);
  // the same arguments restore
  makeAggregate(FNS, { by: 'r.k' }).restore([...logs[1]]);
  makeWindow(['tumbling', '5s'], { time: 'r.ts', grace: '2s' }).restore([...logs[0]]);
});

test('state restore: idle flush counts quiet time from the restart', () => {
  const opts = { time: 'r.ts', idleFlush: '5s' };
  const log = new Map();
  const w1 = makeWindow(['tumbling', '10s'], opts);
  assert.equal(typeof w1.tick, 'function', 'a window with --idle-flush ticks');
  w1.restore([]);
  w1.process([rec({ ts: 2000 }), rec({ ts: 8000 })], []);
  for (const [k, v] of w1.drainChanges()) log.set(k, v);
  // a restarted stage: quiet since the restart counts, so the open window closes once 5 s have passed
  const w2 = makeWindow(['tumbling', '10s'], opts);
  w2.restore([...log]);
  const marks = (out) => out.filter((r) => r.ctl !== undefined && typeof r.value === 'number').map((r) => r.value);
  const early = [];
  w2.tick(Date.now() + 1000, early);
  assert.deepEqual(marks(early), []);
  const late = [];
  w2.tick(Date.now() + 6000, late);
  assert.ok(marks(late).length === 1 && marks(late)[0] >= 13000, `watermark after 5 s of quiet: ${JSON.stringify(marks(late))}`);
});

test('state restore: infinite and NaN values survive the changelog', () => {
  const vals = [{ k: 'a', v: 1e308, u: 1 }, { k: 'a', v: 1e308, u: Infinity }, { k: 'a', v: 1, u: -Infinity }, { k: 'a', v: 2, u: NaN }];
  const fns = ['sum(r.v)', 'max(r.v)', 'distinct(r.u)'];
  const whole = makeAggregate(fns, { by: 'r.k', emit: 'end' });
  const outW = [];
  whole.process(vals.map((v, i) => rec(v, i + 1)), outW);
  whole.end(outW);
  const first = makeAggregate(fns, { by: 'r.k', emit: 'end' });
  first.restore([]);
  first.process(vals.slice(0, 2).map((v, i) => rec(v, i + 1)), []);
  const log = new Map(first.drainChanges().map(([k, v]) => [k, stateParse(stateStringify(v))]));
  const second = makeAggregate(fns, { by: 'r.k', emit: 'end' });
  second.restore([...log]);
  const out = [];
  second.process(vals.slice(2).map((v, i) => rec(v, i + 3)), out);
  second.end(out);
  assert.deepEqual(data(out), data(outW));
  assert.equal(data(out)[0].distinct_u, 4);
  assert.equal(stateParse(stateStringify({ a: [Infinity, -Infinity, NaN, 1] })).a.map(String).join(), 'Infinity,-Infinity,NaN,1');
});
