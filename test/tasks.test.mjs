// Tasks (pipeline/tasks.ts): the stateful span of a Kafka-fed run kept once per input partition — each task its own
// stages, stream time and changelog entries — and the rule that decides when a run may be split that way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rec } from '../dist/src/pipeline/record.js';
import { Tasks } from '../dist/src/pipeline/tasks.js';
import { assemble, byRecordKey, parseSegment } from '../dist/src/pipeline/assemble.js';
import { commands } from '../dist/commands/index.js';
import { stateParse, stateStringify } from '../dist/src/pipeline/statejson.js';
import { makeAggregate, makeWindow, data } from './helpers/windowing.mjs';

const T0 = 1_767_225_600_000;
const span = () => [makeWindow(['tumbling', '10s'], { time: 'r.ts' }), makeAggregate(['count', 'sum(r.v)'], { by: 'key' })];
const tasksOf = () => new Tasks(span(), span);

/** A record read from partition `p` of a topic, as the Kafka source makes it. */
function from(p, value, key = value.k) {
  const src = { name: `in/${p}`, partition: p, where: (pos) => `in/${p}@${pos}` };
  const r = new Rec(value, JSON.stringify(value), false, 1, src);
  r.key = key;
  return r;
}

/** Each partition's records through a span of its own: what the tasks must give for that partition. */
function alone(values) {
  const [w, a] = span();
  const mid = [];
  w.process(values.map((v) => from(0, v)), mid);
  const out = [];
  a.process(mid, out);
  const endW = [];
  w.end(endW);
  a.process(endW, out);
  a.end(out);
  return data(out);
}

const P0 = [{ k: 'a', ts: T0, v: 1 }, { k: 'b', ts: T0 + 4000, v: 2 }, { k: 'a', ts: T0 + 12_000, v: 3 }, { k: 'a', ts: T0 + 25_000, v: 4 }];
const P1 = [{ k: 'c', ts: T0 + 1000, v: 10 }, { k: 'c', ts: T0 + 2000, v: 20 }];

test('each partition\'s records go to their own task: a far-ahead partition does not close another\'s windows', () => {
  const tasks = tasksOf();
  tasks.add(0);
  tasks.add(1);
  const out = [];
  // partition 0 runs 25 s ahead; partition 1's window [0,10s) stays open in its task (its stream time is its own)
  tasks.process([...P0.map((v) => from(0, v)), from(1, P1[0])], out);
  assert.deepEqual(data(out).map((r) => r.key), ['a', 'b', 'a'], 'partition 0 closed its first two windows; partition 1 none');
  tasks.process([from(1, P1[1])], out);
  tasks.end(out);
  const got = data(out);
  const want = [...alone(P0), ...alone(P1)];
  const norm = (rs) => rs.map((r) => JSON.stringify(r)).sort();
  assert.deepEqual(norm(got), norm(want));
});

test('watermarks leaving the span are the least of the tasks\', never moving back; the window announcement goes out once', () => {
  const tasks = tasksOf();
  tasks.add(0);
  tasks.add(1);
  const out = [];
  // task 0 is at 30 s, task 1 at 15 s (each closed its first window): 15 s goes out; then task 1 moves to 60 s
  tasks.process([from(0, { k: 'a', ts: T0 + 5000, v: 1 }), from(0, { k: 'a', ts: T0 + 30_000, v: 1 })], out);
  assert.equal(out.filter((r) => r.ctl === '$watermark').length, 0, 'task 1 has said nothing yet: it holds the others back');
  tasks.process([from(1, { k: 'c', ts: T0 + 1000, v: 1 }), from(1, { k: 'c', ts: T0 + 15_000, v: 1 })], out);
  tasks.process([from(1, { k: 'c', ts: T0 + 60_000, v: 1 })], out);
  const wms = out.filter((r) => r.ctl === '$watermark').map((r) => r.value - T0);
  assert.deepEqual(wms, [15_000, 30_000]);
  // a span ending in the window: each task announces its windows, the span once
  const windows = new Tasks([makeWindow(['tumbling', '10s'], { time: 'r.ts' })], () => [makeWindow(['tumbling', '10s'], { time: 'r.ts' })]);
  windows.add(0);
  windows.add(1);
  const tagged = [];
  windows.process([from(0, { k: 'a', ts: T0 }), from(1, { k: 'b', ts: T0 })], tagged);
  assert.equal(tagged.filter((r) => r.ctl === '$window').length, 1);
  assert.equal(data(tagged).length, 2);
});

test('a task whose partition has gone quiet for the idle timeout no longer holds the watermark back', () => {
  let now = 1_000_000;
  const tasks = new Tasks(span(), span, () => now);
  tasks.add(0);
  tasks.add(1);
  const out = [];
  tasks.process([from(0, { k: 'a', ts: T0 + 1000, v: 1 }), from(0, { k: 'a', ts: T0 + 15_000, v: 1 })], out);
  assert.equal(out.filter((r) => r.ctl === '$watermark').length, 0, 'task 1 is new: it holds the others back');
  now += 6000;
  tasks.process([from(0, { k: 'a', ts: T0 + 25_000, v: 1 })], out);
  assert.deepEqual(out.filter((r) => r.ctl === '$watermark').map((r) => r.value - T0), [25_000], 'task 1 quiet for 6 s: idle');
});

test('a dropped task is restored elsewhere from its drained entries and goes on as if it had never moved', () => {
  const all = [...P0, { k: 'b', ts: T0 + 26_000, v: 5 }, { k: 'a', ts: T0 + 41_000, v: 6 }];
  const straight = tasksOf();
  straight.add(0);
  const want = [];
  straight.process(all.map((v) => from(0, v)), want);
  straight.end(want);

  const first = tasksOf();
  first.add(0);
  const out = [];
  first.process(all.slice(0, 3).map((v) => from(0, v)), out);
  const changes = first.drainChanges();
  assert.ok(changes.length > 0 && changes.every((c) => c.task === 0), 'changes name their task');
  first.drop(0);
  assert.deepEqual(first.ids(), []);
  // records of a task this process gave up are its new owner's: not processed here, counted
  first.process([from(0, all[3])], out);
  assert.equal(first.counters()['handed-over'], 1);

  // the next owner restores the latest entry of each key, through the changelog's JSON
  const latest = [new Map(), new Map()];
  for (const c of changes) for (const [k, v] of c.entries) latest[c.stage].set(k, v === null ? null : stateParse(stateStringify(v)));
  const second = tasksOf();
  second.add(0, latest.map((m) => [...m].filter(([, v]) => v !== null)));
  second.process(all.slice(3).map((v) => from(0, v)), out);
  second.end(out);
  assert.deepEqual(data(out), data(want));
});

test('counters of every task, the dropped ones included, add up', () => {
  const tasks = new Tasks([makeWindow(['tumbling', '10s'], { time: 'r.ts' })], () => [makeWindow(['tumbling', '10s'], { time: 'r.ts' }, 'skip')]);
  tasks.add(0);
  tasks.add(1);
  tasks.process([from(0, { k: 'a', ts: 'soon' }), from(1, { k: 'a', ts: 'later' })], []);
  tasks.drop(1);
  assert.equal(tasks.counters()['invalid-time'], 2);
});

test('a run\'s state is split by input partition only when every per-key state is grouped by the record key', () => {
  const win = (args, o) => makeWindow(args, { time: 'r.ts', ...o });
  assert.equal(byRecordKey([win(['tumbling', '1m']), makeAggregate(['count'], { by: 'key' })]), true);
  assert.equal(byRecordKey([win(['tumbling', '1m']), makeAggregate(['count'], { by: 'r.page' })]), false);
  assert.equal(byRecordKey([win(['tumbling', '1m']), makeAggregate(['count'])]), false, 'one group for all records');
  // a session window is per record key unless --by says otherwise; the aggregate after it groups by the window's key
  assert.equal(byRecordKey([win(['session', '5m']), makeAggregate(['count'])]), true);
  assert.equal(byRecordKey([win(['session', '5m'], { by: 'r.user' }), makeAggregate(['count'])]), false);
  assert.equal(byRecordKey([win(['tumbling', '1m'])]), true, 'a window grid is not per key');
});

/** A command line as the CLI assembles it (nothing connects: Kafka parts connect when a run starts). */
async function assembled(line) {
  const segs = [];
  for (const part of line.split(' + ')) segs.push(await parseSegment(part.match(/'[^']*'|\S+/g).map((w) => w.replace(/^'|'$/g, '')), commands));
  return assemble(segs);
}

test('a group\'s stateful run: tasks when the state groups by the record key (or --no-repartition), a repartition topic when by another key, whole when its stages disagree', async () => {
  const win = 'window tumbling 1m --time r.ts';
  let a = await assembled(`consume t --group g + ${win} + aggregate count --by key`);
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['window+aggregate']);
  a = await assembled(`consume t --group g + map '({...r, n: 1})' + ${win} + aggregate count --by r.page`);
  assert.deepEqual(a.repartition, { at: 1, stage: 'aggregate', by: ['r.page'] });
  assert.deepEqual(a.stages.map((s) => s.name), ['map', 'window', 'aggregate'], 'split by the repartition run, not here');
  a = await assembled(`consume t --group g --no-repartition + ${win} + aggregate count --by r.page`);
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['window+aggregate']);
  a = await assembled(`consume t --group g + ${win} + aggregate count --by r.user --by r.page`);
  assert.deepEqual(a.repartition?.by, ['r.user', 'r.page']);
  // dedupe by one key, aggregate by another: no one partitioning serves both
  a = await assembled(`consume t --group g + dedupe --by r.id --within 1h + ${win} + aggregate count --by r.page`);
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['dedupe', 'window', 'aggregate']);
  // a map between the window and the aggregate may change what --by reads: records cannot be placed by it earlier
  a = await assembled(`consume t --group g + ${win} + map '({...r, page: r.country})' + aggregate count --by r.page`);
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['window', 'map', 'aggregate']);
  // several topics: their state stays whole (a task would hold partition p of each)
  a = await assembled(`consume t u --group g + ${win} + aggregate count --by key`);
  assert.deepEqual(a.stages.map((s) => s.name), ['window', 'aggregate']);
  // a caller that runs the pipeline itself (the gateway) asks for no repartition: the state stays whole, the sink real
  const segs = [];
  for (const part of [`consume t --group g`, `dedupe --by r.id --within 1m`]) segs.push(await parseSegment(part.split(' '), commands));
  a = assemble(segs, undefined, undefined, { repartition: false });
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['dedupe']);
  assert.notEqual(a.sink.name, 'repartitioned');
  // without a group there is no changelog to split
  a = await assembled(`consume t + ${win} + aggregate count --by r.page`);
  assert.equal(a.repartition, undefined);
  assert.deepEqual(a.stages.map((s) => s.name), ['window', 'aggregate']);
});

// The checkpoint a source asks for before a rebalance comes after the batch it had already handed out (the one the
// runner read ahead): nothing of a task is processed or saved between that checkpoint and the task's drop.
test('a checkpoint asked for before a rebalance includes the batch read ahead; nothing runs for the task until it is dropped', async () => {
  const { runPipeline } = await import('../dist/src/pipeline/runner.js');
  const log = [];
  const span = () => [makeAggregate(['count'], { by: 'key', emit: 'update' })];
  const tasks = new Tasks(span(), span);
  const rec = (off) => {
    const r = from(0, { v: off }, 'k');
    r.pos = off;
    r.ts = 1;
    return r;
  };
  let rebalanced;
  const rebalancing = new Promise((r) => (rebalanced = r));
  const positions = new WeakMap();
  const state = { keeps: [], persist: async (changes, pos) => log.push(`persist ${pos.map((p) => p.offset).join(',')}`), restore: async () => {} };
  const batch = (off) => {
    const b = [rec(off)];
    positions.set(b, [{ topic: 'in', partition: 0, offset: off + 1 }]);
    return b;
  };
  const source = {
    name: 'fake',
    state,
    checkpointMs: 1000,
    positions: (b) => positions.get(b) ?? [],
    ack: async (b) => log.push(`ack ${positions.get(b)[0].offset}`),
    async *batches() {
      tasks.add(0);
      yield batch(1);
      yield batch(2); // read ahead while batch 1 is written, before the rebalance starts
      await rebalancing;
    },
  };
  let writes = 0;
  const sink = {
    name: 'sink',
    async write(recs) {
      log.push(`write ${recs.filter((r) => r.ctl === undefined).map((r) => r.value.count).join(',')}`);
      if (++writes > 1) return;
      (async () => {
        await state.checkpointNow();
        log.push('checkpointed');
        await new Promise((r) => setTimeout(r, 300));
        tasks.drop(0);
        log.push('dropped');
        rebalanced();
      })();
      await new Promise((r) => setTimeout(r, 20));
    },
    async end() {},
  };
  await runPipeline({ source, stages: [tasks], sink, stop: new Promise((r) => setTimeout(r, 600)) });
  const at = log.indexOf('checkpointed');
  assert.deepEqual(log.slice(0, at + 1), ['write 1', 'write 2', 'persist 2,3', 'ack 2', 'ack 3', 'checkpointed']);
  assert.deepEqual(log.slice(at + 1, log.indexOf('dropped')), [], 'nothing of the task between the checkpoint and its drop');
});

test('a failing record stops the batch there, as in a Chain: records after it, of any task, are not processed', () => {
  const win = () => [makeWindow(['tumbling', '10s'], { time: 'r.ts' })];
  const tasks = new Tasks(win(), win);
  tasks.add(0);
  tasks.add(1);
  const out = [];
  assert.throws(() => tasks.process([from(1, { k: 'a', ts: T0 }), from(0, { k: 'b', ts: 'never' }), from(1, { k: 'c', ts: T0 + 1 })], out), /never|time/);
  assert.deepEqual(data(out).map((r) => r.k), ['a']);
});
