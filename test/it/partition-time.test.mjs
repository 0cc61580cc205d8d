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
  // the other window types over the same topic (per key, merging, record-defined), with and without grace
  for (const w of ['hopping 1m --every 20s --by r.page', 'session 2s --by r.page --grace 1s', 'sliding 5s --by r.country']) {
    const other = `window ${w} --time r.ts + aggregate count`;
    const one = results((await ok(`${gen} | ${KS} ${other}`)).stdout);
    const many = await ok(`${KS} consume ${t} --exit + ${other}`);
    assert.doesNotMatch(many.stderr, /late=/, `${w}: ${many.stderr}`);
    assert.deepEqual(results(many.stdout), one, w);
  }
});

// Idle means the source has nothing of a partition waiting, not that the stage has seen none of it lately: a reader
// that stops for longer than --idle-timeout made the partitions with a backlog idle, and 22,972 of 60,000 records late.
test('a stalled reader idles no partition: every record is windowed', { timeout: 120_000 }, async () => {
  const t = `it-ptime-stall-${randomUUID().slice(0, 8)}`;
  topics.push(t);
  await adm.createTopics({ topics: [{ topic: t, numPartitions: 3 }], waitForLeaders: true });
  await ok(`${KS} gen --count 30000 --event-rate 100 --seed 6 | ${KS} produce ${t} --key r.user --quiet`);
  const r = await ok(`${KS} consume ${t} --exit + window tumbling 10s --time r.ts --idle-timeout 1s | (sleep 3; cat)`);
  assert.doesNotMatch(r.stderr, /late=/, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => l && !l.startsWith('{"$')).length, 30000);
});

// A restarted run may announce its `$window` line from a tick, before its first record; every line of a run says the
// same, and a state saved without the `partitioned` field (or with it) restores: the run crashed with "two different
// `$window` specs".
test('a windowed group run restarted from its state with --idle-flush goes on, no window twice', { timeout: 120_000 }, async () => {
  const t = `it-ptime-restart-${randomUUID().slice(0, 8)}`;
  const g = `it-ptime-g-${randomUUID().slice(0, 8)}`;
  topics.push(t, `${g}-kstream-state`);
  await adm.createTopics({ topics: [{ topic: t, numPartitions: 3 }], waitForLeaders: true });
  await ok(`${KS} gen --count 30000 --event-rate 100 --seed 7 | ${KS} produce ${t} --key r.user --quiet`);
  const job = (flush) => `${KS} consume ${t} --group ${g} + window tumbling 1m --time r.ts --idle-flush ${flush} + aggregate count`;
  const first = await ok(`timeout -s INT 6 ${job('1h')}; test $? -eq 124`);
  // (12 s: without a --by the count goes through a repartition topic, two group members to start, under CI's load)
  const second = await ok(`timeout -s INT 12 ${job('1s')}; test $? -eq 124`);
  assert.doesNotMatch(second.stderr, /two different/, second.stderr);
  const wins = [...results(first.stdout), ...results(second.stdout)].map((l) => JSON.parse(l));
  const starts = wins.map((w) => w.window.start);
  assert.equal(new Set(starts).size, starts.length, `a window twice: ${starts}`);
  assert.equal(wins.reduce((n, w) => n + w.count, 0), 30000, 'every record counted once');
});
