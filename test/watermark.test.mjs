// Stream time over several input partitions (time/watermark.ts; docs/semantics.md "Several input partitions"):
// each partition keeps its own, the stage's is the least over the partitions that are not idle, a partition is idle
// only once the source has had nothing of it waiting for the idle timeout (a stalled pipeline idles no partition),
// and the stage's stream time never goes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamTime } from '../dist/src/time/watermark.js';

/** Partition refs sharing one group, as a Kafka source's records carry them; `behind` = partitions with records waiting. */
function partitions(n) {
  const group = { members: [], behind: new Set(), waiting: (r) => group.behind.has(r) };
  const refs = Array.from({ length: n }, (_, i) => ({ name: `t/${i}`, where: (p) => `t/${i}@${p}`, group }));
  group.members = refs;
  for (const r of refs) group.behind.add(r);
  return refs;
}

test('one stream: the largest event time seen, as before', () => {
  const st = new StreamTime(0);
  assert.equal(st.observe(1000), true);
  assert.equal(st.observe(500), false);
  assert.equal(st.st, 1000);
  // a record without input partitions (stdin): the window stage takes this same rule for it
  assert.equal(st.observe(2000), true);
  assert.equal(st.st, 2000);
});

test('several partitions: the least of their stream times, once every partition with records waiting has been seen', () => {
  const [p0, p1, p2] = partitions(3);
  const st = new StreamTime(100, 5000);
  // partition 0 runs ahead: two minutes of its event time while the others have not been read yet
  for (let t = 0; t <= 120_000; t += 1000) assert.equal(st.observeIn(t, p0, p0.group, 0), false, `t=${t}`);
  assert.equal(st.st, -Infinity);
  assert.equal(st.observeIn(5000, p1, p1.group, 10), false, 'partition 2 not seen yet');
  assert.equal(st.observeIn(7000, p2, p2.group, 10), true);
  assert.equal(st.st, 5000, 'the least: partition 1');
  assert.equal(st.watermark, 4900);
  assert.equal(st.observeIn(6000, p1, p1.group, 20), true);
  assert.equal(st.observeIn(9000, p1, p1.group, 20), true);
  assert.equal(st.st, 7000, 'now partition 2 is the least');
  assert.equal(st.observeIn(8000, p0, p0.group, 20), false, 'behind its own stream time: nothing moves');
  assert.equal(st.st, 7000);
});

test('a partition stops holding the others back once nothing of it has waited for the idle timeout; a stall idles none', () => {
  const [p0, p1] = partitions(2);
  const st = new StreamTime(0, 1000);
  st.observeIn(50_000, p0, p0.group, 0);
  assert.equal(st.recheck(p0.group, 60_000), false, 'a minute without a batch (a stall): partition 1 still has records to come');
  assert.equal(st.st, -Infinity);
  p1.group.behind.delete(p1); // the source has nothing of partition 1 (an empty partition, or caught up)
  assert.equal(st.recheck(p0.group, 60_500), false, 'nothing waiting only since now');
  assert.equal(st.recheck(p0.group, 61_499), false);
  assert.equal(st.recheck(p0.group, 61_500), true, 'quiet for the timeout');
  assert.equal(st.st, 50_000);
  // partition 1 has records again, behind: judged against the stage's stream time, which stays
  p1.group.behind.add(p1);
  assert.equal(st.observeIn(10_000, p1, p1.group, 62_000), false);
  assert.equal(st.st, 50_000);
  assert.equal(st.observeIn(60_000, p0, p0.group, 62_000), false, 'partition 1 is active again and the least');
  assert.equal(st.observeIn(55_000, p1, p1.group, 62_000), true);
  assert.equal(st.st, 55_000);
});

test('a new assignment: a partition added with records waiting holds stream time until they come', () => {
  const [p0, p1] = partitions(2);
  const st = new StreamTime(0, 1000);
  st.observeIn(1000, p0, p0.group, 0);
  st.observeIn(2000, p1, p1.group, 0);
  assert.equal(st.st, 1000);
  const p2 = { name: 't/2', where: String, group: p0.group };
  p0.group.members = [p0, p1, p2];
  p0.group.behind.add(p2);
  assert.equal(st.observeIn(3000, p0, p0.group, 5000), false, 'partition 2 was just assigned and has records');
  assert.equal(st.recheck(p0.group, 50_000), false, 'however long it takes');
  assert.equal(st.observeIn(2500, p2, p2.group, 50_000), true);
  assert.equal(st.st, 2000);
});

test('a lagging partition costs O(1) a record: the other partitions are looked at once per batch, not per record', () => {
  const refs = partitions(32);
  const group = refs[0].group;
  let asked = 0;
  const waiting = group.waiting;
  group.waiting = (r) => (asked++, waiting(r));
  const st = new StreamTime(0, 5000);
  for (const [i, r] of refs.entries()) st.observeIn(1_000_000 + i, r, group, 0);
  asked = 0;
  // partition 0 is the one behind: 10,000 of its records in one batch, each moving the stage's stream time
  let moved = 0;
  for (let t = 1_000_001; t < 1_010_001; t++) if (st.observeIn(t, refs[0], group, 1)) moved++;
  assert.equal(st.st, 1_000_001, 'held by partition 1 once partition 0 passed it');
  assert.equal(moved, 1);
  assert.ok(asked <= 31, `${asked} questions to the source for 10,000 records`);
});
