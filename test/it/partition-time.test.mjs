// Event time across input partitions (docs/semantics.md, "Several input partitions"): a topic keyed by user over
// three partitions, read by one process and windowed by page. Every partition is in event-time order, but a fetch
// holds minutes of one partition's event time before the next partition's records come: with one stream time for
// all of them, 68,554 of 100,000 records were late. Each partition now keeps its own, and the stage's is the least.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { KS } from '../helpers/spawn.mjs';

const { adm, topics, ok } = await itContext();
const N = 100_000;
const results = (stdout) => stdout.split('\n').filter((l) => l && !l.startsWith('{"$')).sort();

test('a windowed aggregate over a topic of several partitions loses no in-order record and equals the single-file result', { timeout: 120_000 }, async () => {
  const t = `it-ptime-${randomUUID().slice(0, 8)}`;
  topics.push(t);
  await adm.createTopics({ topics: [{ topic: t, numPartitions: 3 }], waitForLeaders: true });
  // 100 events a second of event time: 1,000 s, so every partition's first fetch spans several windows
  const gen = `${KS} gen --count ${N} --event-rate 100 --seed 5`;
  await ok(`${gen} | ${KS} produce ${t} --key r.user --quiet`);
  const stages = "window tumbling 1m --time r.ts + aggregate count 'sum(r.bytes)' --by r.page";
  const single = await ok(`${gen} | ${KS} ${stages}`);
  const fused = await ok(`${KS} consume ${t} --exit + ${stages}`);
  assert.doesNotMatch(fused.stderr, /late=/, fused.stderr);
  const want = results(single.stdout);
  assert.ok(want.length > 800, `${want.length} windows`);
  assert.deepEqual(results(fused.stdout), want);
  const counted = want.reduce((n, l) => n + JSON.parse(l).count, 0);
  assert.equal(counted, N);
});
