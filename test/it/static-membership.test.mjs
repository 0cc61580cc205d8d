// --instance-id (static group membership) against the real broker at KSTREAM_BROKERS: a member killed with -9 and
// restarted with the same id gets its partitions back at once — well within the session timeout (30 s), with no
// rebalance: the other member keeps its partition and never gets the restarted member's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { run, start, textLines } from '../helpers/spawn.mjs';

const { env, createTopic, groupName } = await itContext();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// the member's session timeout (src/kafka/client/consumer.ts): a dynamic member replacing a killed one waits for it
const SESSION_MS = 30_000;
// "at once": the restarted member reads again within a third of that
const BACK_MS = 10_000;

/** The {round, p} records a member has written (envelopes), with the partition each came from. */
const seen = (m) => textLines(m.stdout()).map((l) => JSON.parse(l)).map((e) => ({ partition: e.partition, ...e.value }));

async function produceRound(t, round) {
  for (const p of [0, 1]) {
    const r = await run(['produce', t, '--partition', String(p), '--quiet'], { env, input: JSON.stringify({ round, p }) + '\n' });
    assert.equal(r.code, 0, r.stderr);
  }
}

test('--instance-id: a member restarted after kill -9 gets its partition back at once, no rebalance', { timeout: 150_000 }, async (tc) => {
  const t = await createTopic('static', 2);
  const g = groupName('static');
  const member = (id) => start(['consume', t, '--group', g, '--instance-id', id, '--format', 'envelope'], { env, stdin: 'ignore' });
  let a = member('a');
  const b = member('b');
  try {
    // one record per partition per round until the group is settled: each member reads exactly one partition
    let pA;
    let round = 0;
    for (; round < 30 && pA === undefined; round++) {
      await produceRound(t, round);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && [...seen(a), ...seen(b)].filter((x) => x.round === round).length < 2) await sleep(50);
      const fromA = seen(a).filter((x) => x.round === round).map((x) => x.partition);
      const fromB = seen(b).filter((x) => x.round === round).map((x) => x.partition);
      if (fromA.length === 1 && fromB.length === 1 && fromA[0] !== fromB[0]) pA = fromA[0];
    }
    assert.notEqual(pA, undefined, `the two members never settled on one partition each: a ${JSON.stringify(seen(a))} b ${JSON.stringify(seen(b))}; stderr a: ${a.stderr()} b: ${b.stderr()}`);
    const pB = 1 - pA;

    a.kill('SIGKILL');
    const gone = await a.exited;
    assert.equal(gone.signal, 'SIGKILL');
    const bBefore = seen(b).length;
    const t0 = Date.now();
    a = member('a');
    const after = round + 1;
    await produceRound(t, after);
    // the restarted member reads its partition's new record within BACK_MS of starting
    await a.waitFor(() => seen(a).some((x) => x.round === after), BACK_MS).catch((e) => assert.fail(`the restarted member did not read partition ${pA} within ${BACK_MS} ms (session timeout ${SESSION_MS} ms): ${e.message}`));
    const backMs = Date.now() - t0;
    tc.diagnostic(`the restarted member read its partition ${backMs} ms after it was started (process start and one produce included)`);
    await b.waitFor(() => seen(b).some((x) => x.round === after), BACK_MS);
    // no rebalance: each kept its partition, and the other member never read the killed member's
    assert.deepEqual([...new Set(seen(a).map((x) => x.partition))], [pA], 'the restarted member reads only its old partition');
    assert.deepEqual([...new Set(seen(b).slice(bBefore).map((x) => x.partition))], [pB], 'the other member kept its partition alone');
    assert.ok(backMs < BACK_MS, `back after ${backMs} ms`);
  } finally {
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  }
});
