// Stream time over several input partitions (time/watermark.ts; docs/semantics.md "Several input partitions"):
// each partition keeps its own, the stage's is the least over the partitions that are not idle, a partition not
// seen yet holds the others back until the idle timeout, and the stage's stream time never goes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamTime } from '../dist/src/time/watermark.js';

/** Partition refs sharing one group, as a Kafka source's records carry them. */
function partitions(n) {
  const group = { members: [] };
  const refs = Array.from({ length: n }, (_, i) => ({ name: `t/${i}`, where: (p) => `t/${i}@${p}`, group }));
  group.members = refs;
  return refs;
}

test('one stream: the largest event time seen, as before', () => {
  const st = new StreamTime(0);
  assert.equal(st.observe(1000), true);
  assert.equal(st.observe(500), false);
  assert.equal(st.st, 1000);
  const lone = { name: 'stdin', where: String };
  assert.equal(st.observeIn(2000, lone, 1), true);
  assert.equal(st.st, 2000);
});

test('several partitions: the least of their stream times, once every partition has been seen', () => {
  const [p0, p1, p2] = partitions(3);
  const st = new StreamTime(100, 5000);
  // partition 0 runs ahead: two minutes of its event time while the others have not been read yet
  for (let t = 0; t <= 120_000; t += 1000) assert.equal(st.observeIn(t, p0, 0), false, `t=${t}`);
  assert.equal(st.st, -Infinity);
  assert.equal(st.observeIn(5000, p1, 10), false, 'partition 2 not seen yet');
  assert.equal(st.observeIn(7000, p2, 10), true);
  assert.equal(st.st, 5000, 'the least: partition 1');
  assert.equal(st.watermark, 4900);
  assert.equal(st.observeIn(6000, p1, 20), true);
  assert.equal(st.st, 6000);
  assert.equal(st.observeIn(9000, p1, 20), true);
  assert.equal(st.st, 7000, 'now partition 2 is the least');
  assert.equal(st.observeIn(8000, p0, 20), false, 'behind its own stream time: nothing moves');
  assert.equal(st.st, 7000);
});

test('a partition quiet for the idle timeout stops holding the others back; stream time never goes back', () => {
  const [p0, p1] = partitions(2);
  const st = new StreamTime(0, 1000);
  st.observeIn(50_000, p0, 0);
  assert.equal(st.st, -Infinity, 'partition 1 may still come');
  assert.equal(st.observeIn(50_500, p0, 999), false);
  assert.equal(st.recheck(p0, 999), false);
  assert.equal(st.observeIn(51_000, p0, 1000), false, 'records of partition 0 alone do not move it');
  assert.equal(st.recheck(p0, 1000), true, 'partition 1 never came within the timeout');
  assert.equal(st.st, 51_000);
  // partition 1 wakes up behind: its records are behind the stage's stream time (late for closed windows), which stays
  assert.equal(st.observeIn(10_000, p1, 1500), false);
  assert.equal(st.st, 51_000);
  assert.equal(st.observeIn(60_000, p0, 1600), false, 'partition 1 is active again and the least');
  assert.equal(st.observeIn(55_000, p1, 1700), true);
  assert.equal(st.st, 55_000);
  // partition 0 goes quiet: partition 1 alone moves it
  assert.equal(st.observeIn(70_000, p1, 3000), true);
  assert.equal(st.st, 70_000);
});

test('a new assignment: partitions added later hold stream time from when they were assigned', () => {
  const [p0, p1] = partitions(2);
  const st = new StreamTime(0, 1000);
  st.observeIn(1000, p0, 0);
  st.observeIn(2000, p1, 0);
  assert.equal(st.st, 1000);
  const p2 = { name: 't/2', where: String, group: p0.group };
  p0.group.members = [p0, p1, p2];
  assert.equal(st.observeIn(3000, p0, 5000), false, 'partition 2 was just assigned');
  assert.equal(st.st, 1000);
  st.observeIn(4000, p0, 5900);
  st.observeIn(2500, p1, 5900);
  assert.equal(st.recheck(p0, 5900), false);
  assert.equal(st.recheck(p0, 6000), true, 'it stayed quiet for the timeout');
  assert.equal(st.st, 2500);
  // every partition quiet (nothing arrives): nothing to go by, it stays
  assert.equal(st.recheck(p0, 60_000), false);
  assert.equal(st.st, 2500);
});
