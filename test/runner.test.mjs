import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPipeline } from '../dist/src/pipeline/runner.js';
import { Chain } from '../dist/src/pipeline/chain.js';
import { Rec } from '../dist/src/pipeline/record.js';

// A source of fixed batches that records when each batch is acknowledged.
function source(batches, log) {
  return {
    name: 'test',
    async *batches() { for (const b of batches) yield b.map((v, i) => new Rec(v, undefined, false, i)); },
    ack(batch) { log.push(`ack ${batch.map((r) => r.value).join(',')}`); },
  };
}
const sink = (log, out = []) => ({ name: 'sink', write(b) { out.push(...b.map((r) => r.value)); log.push(`write ${b.map((r) => r.value).join(',')}`); }, end() { log.push('end'); } });

// A stateful running sum: emits the sum after each record; state = the sum.
class Sum {
  name = 'sum'; reads = 'all'; keepsValue = false; total = 0; dirty = false;
  process(batch, out) { for (const r of batch) { this.total += r.value; this.dirty = true; out.push(r.derive(this.total)); } }
  drainChanges() { if (!this.dirty) return []; this.dirty = false; return [['total', this.total]]; }
  restore(entries) { for (const [k, v] of entries) if (k === 'total') this.total = v; }
}

test('state is persisted after the sink acknowledged a batch and before its offsets are acknowledged', async () => {
  const log = [];
  const saved = new Map();
  const state = {
    async restore(stages) { log.push('restore'); stages[0].restore(saved.entries()); },
    async persist(changes) { for (const c of changes) for (const [k, v] of c.entries) saved.set(k, v); log.push(`persist ${JSON.stringify(changes)}`); },
  };
  const out = [];
  await runPipeline({ source: source([[1, 2], [3]], log), stages: [new Sum()], sink: sink(log, out), state, checkpointMs: 0 });
  assert.deepEqual(out, [1, 3, 6]);
  assert.deepEqual(log, [
    'restore',
    'write 1,3', 'persist [{"stage":0,"entries":[["total",3]]}]', 'ack 1,2',
    'write 6', 'persist [{"stage":0,"entries":[["total",6]]}]', 'ack 3',
    'end',
  ]);
  // A restart restores the saved state before the first record.
  const out2 = [];
  await runPipeline({ source: source([[10]], []), stages: [new Sum()], sink: sink([], out2), state });
  assert.deepEqual(out2, [16]);
});

test('checkpoints come at most once per interval: changes coalesced, the batches since acknowledged after it, positions saved', async () => {
  const log = [];
  let now = 0;
  const src = source([[1], [2], [3], [4], [5]], log);
  src.positions = (b) => [{ topic: 't', partition: 0, offset: b[0].value + 1 }];
  const state = {
    async restore(stages) { stages[0].restore([]); },
    async persist(changes, positions) { log.push(`persist ${JSON.stringify(changes[0].entries)} at ${positions.map((p) => p.offset).join(',')}`); },
  };
  // each batch takes 400 ms to write
  const slow = sink(log);
  const write = slow.write;
  slow.write = (b) => { now += 400; write(b); };
  await runPipeline({ source: src, stages: [new Sum()], sink: slow, state, clock: () => now, checkpointMs: 1000 });
  assert.deepEqual(log, [
    'write 1', 'write 3',
    'write 6', 'persist [["total",6]] at 2,3,4', 'ack 1', 'ack 2', 'ack 3',
    'write 10', 'write 15',
    // end of input: the last checkpoint before the sink's end
    'persist [["total",15]] at 5,6', 'ack 4', 'ack 5',
    'end',
  ]);
});

test('a stage failing mid-batch still delivers what came before, and the batch is not acknowledged', async () => {
  const log = [];
  const failing = { name: 'f', reads: 'none', keepsValue: true, process(batch, out) { for (const r of batch) { if (r.value === 3) throw new Error('boom'); out.push(r); } } };
  await assert.rejects(runPipeline({ source: source([[1, 2, 3, 4]], log), stages: [failing], sink: sink(log) }), /boom/);
  assert.deepEqual(log, ['write 1,2', 'end']);
});

test('the decode plan covers what stages read until one replaces the value', () => {
  const st = (reads, keepsValue) => ({ reads, keepsValue });
  assert.deepEqual(new Chain([st(['a'], true), st(['b'], false), st(['c'], true)]).plan('none'), ['a', 'b']);
  assert.equal(new Chain([st('none', true)]).plan('none'), 'none');
  assert.equal(new Chain([st(['a'], true), st('all', true)]).plan('none'), 'all');
  assert.deepEqual(new Chain([st(['a'], true)]).plan(['k']), ['a', 'k']);
});

// A stop request is seen at the next batch even when the source always has the next one ready: Promise.race takes
// the first settled promise in order, so a read-ahead batch that was ready beat the stop every time, and a fused
// consume → map → produce stopped by SIGINT produced its whole input (CI, delivery-shutdown).
test('a stop request ends the run at the next batch, though the source always has one ready', async () => {
  let requestStop;
  const stop = new Promise((r) => (requestStop = r));
  const src = {
    name: 'endless',
    async *batches() { for (let i = 0; ; i++) yield [new Rec(i, undefined, false, i)]; },
  };
  const out = [];
  const snk = { name: 'sink', write(b) { out.push(...b.map((r) => r.value)); if (out.length === 3) requestStop(); }, end() {} };
  const how = await runPipeline({ source: src, stages: [], sink: snk, stop });
  assert.equal(how, 'stopped');
  assert.ok(out.length <= 4, `${out.length} batches written after the stop`);
});
