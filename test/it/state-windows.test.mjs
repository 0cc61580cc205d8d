// Window/aggregate state across kill -9: a fused consume → window → aggregate → produce pipeline is killed while
// windows are open and restarted; its results must equal those of the same stages run uninterrupted.
// (Its own file: Node's --test-timeout bounds a whole file, and each loop takes up to a minute.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itContext } from '../helpers/broker.mjs';
import { killLoop, midStreamProblems } from '../helpers/delivery.mjs';
import { KS, run } from '../helpers/spawn.mjs';

const { brokers, env: denv, adm, topics, groups } = await itContext();
const WN = 200_000;
// 2-second tumbling windows per page over 200 s of event time (gen clicks: one record per ms): ~1000 results.
const STAGES = `window tumbling 2s --time r.ts --grace 500ms + aggregate count 'sum(r.bytes)' 'avg(r.latency_ms)' 'p99(r.latency_ms)' 'distinct(r.user)' 'first(r.user)' 'last(r.country)' --by r.page`;
const results = (stdout) => stdout.split('\n').filter((l) => l && !l.startsWith('{"$')).sort();

/**
 * One partition, so every run sees the records in the same order (lateness is decided by arrival order); the
 * reference is the same stages over the same records from stdin, uninterrupted.
 */
async function windowedSetup(what) {
  const id = `${what}-${Date.now()}-${process.pid}`;
  const [input, output, group] = [`it-st-in-${id}`, `it-st-out-${id}`, `it-st-${id}`];
  topics.push(input, output, `${group}-kstream-state`);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 }], waitForLeaders: true });
  const gen = `${KS} gen --preset clicks --count ${WN} --seed 3`;
  const p = await run(`${gen} | ${KS} produce ${input} --quiet`, { env: denv });
  assert.equal(p.code, 0, p.stderr);
  const ref = await run(`${gen} | ${KS} ${STAGES}`, { env: denv });
  assert.equal(ref.code, 0, ref.stderr);
  const expected = results(ref.stdout);
  assert.ok(expected.length > 500, `reference has ${expected.length} results`);
  return { input, output, group, expected };
}

for (const eos of [false, true]) {
  const mode = eos ? 'exactly-once' : 'at-least-once';
  test(`window/aggregate state, ${mode}: kill -9 four times with windows open, restart — the results of an uninterrupted run`, { timeout: 240_000 }, async (t) => {
    const { input, output, group, expected } = await windowedSetup(eos ? 'eos' : 'alo');
    const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --fetch-max 32k --commit-interval 50ms${eos ? ' --exactly-once' : ''}${extra} + ${STAGES} + produce ${output} --quiet`;
    const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: expected.length, kills: 4, seed: eos ? 5 : 4, env: denv });
    const kills = runs.filter((r) => r.how !== 'final');
    t.diagnostic(`${mode}: kills at ${kills.map((r) => `${r.outAfter} (input committed ${r.committed}/${r.inputEnd})`).join(', ')} of ${expected.length} results`);
    // each kill came after the run wrote results of its own, before the group had committed the whole input, and
    // more results followed it
    assert.deepEqual(midStreamProblems(runs), [], 'every kill landed mid-stream');
    const got = await run(`${KS} consume ${output} --exit --isolation ${eos ? 'read_committed' : 'read_uncommitted'}`, { env: denv });
    assert.equal(got.code, 0, got.stderr);
    const lines = results(got.stdout);
    if (eos) {
      // exactly the uninterrupted run's results, each once
      assert.deepEqual(lines, expected);
    } else {
      // at-least-once output: a result produced just before a kill may come again, identical; none differs
      const distinct = [...new Set(lines)].sort();
      assert.deepEqual(distinct, expected);
      t.diagnostic(`${mode}: ${lines.length - distinct.length} repeated results`);
      // restarts went on from checkpoints (every 50 ms), not from the start
      assert.ok(lines.length - distinct.length < kills[kills.length - 1].outAfter, 'restored state, not a replay from the start');
    }
    // the changelog was written and the last run removed the windows it closed
    const log = await run(`${KS} consume ${group}-kstream-state --exit --format envelope`, { env: denv });
    assert.equal(log.code, 0, log.stderr);
    const keys = new Set(log.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).key));
    assert.ok([...keys].some((k) => k.startsWith('1/aggregate/')), 'aggregate state in the changelog');
    assert.ok(keys.has('0/window/$st') && keys.has(`$pos/${input}/0`), [...keys].slice(0, 5).join(' '));
  });
}

