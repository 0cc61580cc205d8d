// SEMANTICS.md examples 1–12, each driven through the window and aggregate stages as a fused run would.
// `A:v@t` = {k:"A", v, t}; windows via `--time r.t`, key via `--by r.k`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAggregate, makeWindow, drive, rec as recOf, win } from './helpers/windowing.mjs';

const A = (v, t) => ({ k: 'A', v, t });
const sumOut = (start, end, sum_v, emit) => ({ key: 'A', window: win(start, end), sum_v, emit });
const cntOut = (start, end, count, emit = 'final') => ({ key: 'A', window: win(start, end), count, emit });

test('1. tumbling 10, grace 0, sums: update and final', () => {
  const input = [A(1, 1), A(2, 5), A(3, 12)];
  const upd = drive(makeWindow(['tumbling', '10'], { time: 'r.t' }), makeAggregate(['sum(r.v)'], { by: 'r.k', emit: 'update' }), input);
  assert.deepEqual(upd.steps, [[sumOut(0, 10, 1, 'update')], [sumOut(0, 10, 3, 'update')], [sumOut(10, 20, 3, 'update')]]);
  assert.deepEqual(upd.atEnd, []);
  const fin = drive(makeWindow(['tumbling', '10'], { time: 'r.t' }), makeAggregate(['sum(r.v)'], { by: 'r.k' }), input);
  assert.deepEqual(fin.steps, [[], [], [sumOut(0, 10, 3, 'final')]]);
  assert.deepEqual(fin.atEnd, [sumOut(10, 20, 3, 'final')]);
});

test('2. boundary: @10 is in [10,20) and closes [0,10) at once', () => {
  const r = drive(makeWindow(['tumbling', '10'], { time: 'r.t' }), makeAggregate(['count'], { by: 'r.k' }), [A(1, 9), A(1, 10)]);
  assert.deepEqual(r.steps, [[], [cntOut(0, 10, 1)]]);
  assert.deepEqual(r.atEnd, [cntOut(10, 20, 1)]);
});

test('3. late: @7 after @11 is dropped and counted', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t' });
  const r = drive(w, makeAggregate(['count'], { by: 'r.k' }), [A(1, 2), A(1, 11), A(1, 7)]);
  assert.deepEqual(r.all, [cntOut(0, 10, 1), cntOut(10, 20, 1)]);
  assert.equal(w.counters().late, 1);
});

test('4. grace 5: @7 and @8 count, @15 closes [0,10), @9 is late', () => {
  const w = makeWindow(['tumbling', '10'], { time: 'r.t', grace: '5' });
  const r = drive(w, makeAggregate(['count'], { by: 'r.k' }), [A(1, 2), A(1, 11), A(1, 7), A(1, 14), A(1, 8), A(1, 15), A(1, 9)]);
  assert.deepEqual(r.steps, [[], [], [], [], [], [cntOut(0, 10, 3)], []]);
  assert.deepEqual(r.atEnd, [cntOut(10, 20, 3)]);
  assert.equal(w.counters().late, 1);
});

test('5. hopping 10 every 5', () => {
  const r = drive(makeWindow(['hopping', '10'], { time: 'r.t', every: '5' }), makeAggregate(['sum(r.v)'], { by: 'r.k' }), [A(1, 3), A(2, 7), A(4, 12)]);
  assert.deepEqual(r.steps, [[], [], [sumOut(0, 10, 3, 'final')]]);
  assert.deepEqual(r.atEnd, [sumOut(5, 15, 6, 'final'), sumOut(10, 20, 4, 'final')]);
});

test('6. sliding 5, grace 100, update: windows defined by records, none empty', () => {
  const r = drive(makeWindow(['sliding', '5'], { time: 'r.t', grace: '100', by: 'r.k' }), makeAggregate(['sum(r.v)'], { emit: 'update' }), [A(1, 8), A(2, 9), A(3, 12)]);
  assert.deepEqual(r.steps, [
    [sumOut(3, 8, 1, 'update')],
    [sumOut(9, 14, 2, 'update'), sumOut(4, 9, 3, 'update')],
    [sumOut(9, 14, 5, 'update'), sumOut(10, 15, 3, 'update'), sumOut(7, 12, 6, 'update')],
  ]);
  assert.ok(!r.all.some((x) => x.window.start === 13), 'no [13,18]');
  assert.deepEqual(r.atEnd, []);
});

test('7. sliding 5, a record below 5 uses [0,5]', () => {
  const r = drive(makeWindow(['sliding', '5'], { time: 'r.t', by: 'r.k' }), makeAggregate(['sum(r.v)']), [A(1, 2)]);
  assert.deepEqual(r.all, [sumOut(0, 5, 1, 'final')]);
});

test('8. session gap 5: [10,15] closes when @21 arrives (21 > 20)', () => {
  const r = drive(makeWindow(['session', '5'], { time: 'r.t', by: 'r.k' }), makeAggregate(['count']), [A(1, 10), A(1, 15), A(1, 21)]);
  assert.deepEqual(r.steps, [[], [], [cntOut(10, 15, 2)]]);
  assert.deepEqual(r.atEnd, [cntOut(21, 21, 1)]);
});

test('9. count 3 per key; partial windows at end unless --no-partial', () => {
  const input = [A(1), A(2), { k: 'B', v: 5 }, A(3), A(4)];
  const out = (key, index, count, sum) => ({ key, window: { index }, count, sum, emit: 'final' });
  const r = drive(makeWindow(['count', '3'], { by: 'r.k' }), makeAggregate(['count', 'sum(r.v) as sum']), input);
  assert.deepEqual(r.steps, [[], [], [], [out('A', 0, 3, 6)], []]);
  assert.deepEqual(r.atEnd, [out('A', 1, 1, 4), out('B', 0, 1, 5)]);
  const np = drive(makeWindow(['count', '3'], { by: 'r.k', partial: false }), makeAggregate(['count', 'sum(r.v) as sum']), input);
  assert.deepEqual(np.all, [out('A', 0, 3, 6)]);
});

test('10. rolling count, sum, min, max, avg; null skipped by all but count', () => {
  const agg = makeAggregate(['count', 'sum(r.v)', 'min(r.v)', 'max(r.v)', 'avg(r.v)'], { by: 'r.k' });
  const steps = [];
  for (const v of [4, null, 2, 6]) {
    const out = [];
    agg.process([recOf({ k: 'A', v })], out);
    steps.push(out.map((o) => [o.value.count, o.value.sum_v, o.value.min_v, o.value.max_v, o.value.avg_v]));
  }
  const end = [];
  agg.end(end);
  assert.deepEqual(steps, [[[1, 4, 4, 4, 4]], [[2, 4, 4, 4, 4]], [[3, 6, 2, 4, 3]], [[4, 12, 2, 6, 4]]]);
  assert.deepEqual(end, []);
});

test('11. end of input closes every window', () => {
  const r = drive(makeWindow(['tumbling', '10'], { time: 'r.t' }), makeAggregate(['count'], { by: 'r.k' }), [A(1, 1), A(1, 3)]);
  assert.deepEqual(r.steps, [[], []]);
  assert.deepEqual(r.atEnd, [cntOut(0, 10, 2)]);
});

test('12. percentiles from HDR: p50 of 1,2,3,4 is 2; p99 of 1..100 is 99', () => {
  const agg = makeAggregate(['p50(r.v)', 'p99(r.v)'], { emit: 'end' });
  const out = [];
  agg.process([1, 2, 3, 4].map((v, i) => recOf({ v }, i + 1)), out);
  agg.end(out);
  assert.deepEqual(out.map((o) => o.value), [{ p50_v: 2, p99_v: 4, emit: 'end' }]);
  const agg2 = makeAggregate(['p50(r.v)', 'p99(r.v)'], { emit: 'end' });
  const out2 = [];
  agg2.process(Array.from({ length: 100 }, (_, i) => recOf({ v: i + 1 }, i + 1)), out2);
  agg2.end(out2);
  assert.deepEqual(out2.map((o) => o.value), [{ p50_v: 50, p99_v: 99, emit: 'end' }]);
});
