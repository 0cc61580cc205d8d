// Graceful shutdown against the real broker: SIGINT/SIGTERM stop consuming, drain the batch in flight, commit
// exactly what was produced, leave the group and exit 130; a second signal exits at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { committedSum as committedOf, endSum, itContext } from '../helpers/broker.mjs';
import { countIds } from '../helpers/delivery.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';

// large enough that the pipeline is still reading when the signal comes (it prefetches several batches)
const N = 200_000;
const FIRST_TS = 1767225600000;
const IDS = new Set(Array.from({ length: N }, (_, i) => String(FIRST_TS + i)));
const T = { timeout: 90_000 };
// README, "Stopping": "stop within 5 s" after SIGINT/SIGTERM mid-stream, and "a second signal ends the run within
// 1 s" — the tests hold the runs to those bounds, measured from the signal to the process's exit.
const STOP_MS = 5_000;
const SECOND_SIGNAL_MS = 1_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { env, adm, topics, groups } = await itContext();

async function setup(what) {
  const id = `${what}-${randomUUID().slice(0, 8)}`;
  const [input, output, group] = [`it-sd-in-${id}`, `it-sd-out-${id}`, `it-sd-${id}`];
  topics.push(input, output);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }], waitForLeaders: true });
  const r = await run(`${KS} gen --preset clicks --count ${N} --seed 2 | ${KS} produce ${input} --key r.user --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);
  return { input, output, group };
}

/** A kstream process of its own (signals go to it alone), stdout left unread on child.stdout. */
const startKs = (args) => start(args, { env, stdin: 'ignore', collect: false, group: false });

async function waitOutput(topic, atLeast, exited) {
  let done = false;
  exited.then(() => (done = true));
  for (;;) {
    const n = await endSum(adm, topic);
    if (n >= atLeast) return n;
    if (done) throw new Error('the run ended before the signal');
    await sleep(20);
  }
}

const committedSum = (group, topic) => committedOf(adm, group, topic);

async function readOutput(output, isolation = 'read_uncommitted') {
  const r = await run(`${KS} consume ${output} --exit --isolation ${isolation}`, { env });
  assert.equal(r.code, 0, r.stderr);
  return countIds(r.stdout, IDS);
}

const MAP = ['map', '({id: r.ts, user: r.user})'];

for (const signal of ['SIGINT', 'SIGTERM']) {
  test(`fused consume → map → produce: ${signal} mid-stream drains, commits exactly what it produced, leaves the group, exits 130`, T, async (t) => {
    const { input, output, group } = await setup(signal.toLowerCase());
    const proc = startKs(['consume', input, '--group', group, '--instance-id', 'a', '--fetch-max', '64k', '+', ...MAP, '+', 'produce', output, '--quiet']);
    await waitOutput(output, 10_000, proc.exited);
    const t0 = Date.now();
    proc.child.kill(signal);
    const r = await proc.exited;
    const ms = Date.now() - t0;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(ms < STOP_MS, `took ${ms} ms to stop (README: within ${STOP_MS / 1000} s)`);
    const produced = await endSum(adm, output);
    const committed = await committedSum(group, input);
    t.diagnostic(`${signal} after ${produced} records: committed ${committed}, stopped in ${ms} ms`);
    assert.ok(produced < N, 'the signal came mid-stream');
    assert.equal(committed, produced, 'the commit covers exactly what was produced');
    const d = await adm.describeGroups([group]);
    assert.equal(d.groups[0].members.length, 0, 'the member left the group');
    // a restart continues from there: every record once
    const rest = await run(`${KS} consume ${input} --group ${group} --instance-id a --exit + map '({id: r.ts, user: r.user})' + produce ${output} --quiet`, { env });
    assert.equal(rest.code, 0, rest.stderr);
    const c = await readOutput(output);
    assert.deepEqual([c.lines, c.distinct, c.duplicates, c.missing], [N, N, 0, 0]);
  });
}

test('--exactly-once: SIGTERM mid-stream commits the last transaction and exits 130; a restart ends with exactly N', T, async (t) => {
  const { input, output, group } = await setup('eos-term');
  const args = (extra) => ['consume', input, '--group', group, '--instance-id', 'a', '--exactly-once', '--fetch-max', '64k', ...extra, '+', ...MAP, '+', 'produce', output, '--quiet'];
  const proc = startKs(args([]));
  await waitOutput(output, 10_000, proc.exited);
  const t0 = Date.now();
  proc.child.kill('SIGTERM');
  const r = await proc.exited;
  const ms = Date.now() - t0;
  assert.equal(r.code, 130, r.stderr);
  assert.ok(ms < STOP_MS, `took ${ms} ms to stop (README: within ${STOP_MS / 1000} s, the same for --exactly-once)`);
  const mid = await readOutput(output, 'read_committed');
  assert.equal(mid.duplicates, 0);
  assert.equal(await committedSum(group, input), mid.lines, 'the offsets committed are those of the committed output');
  t.diagnostic(`stopped after ${mid.lines} committed records, in ${ms} ms`);
  const rest = startKs(args(['--exit']));
  const r2 = await rest.exited;
  assert.equal(r2.code, 0, r2.stderr);
  const c = await readOutput(output, 'read_committed');
  assert.deepEqual([c.lines, c.distinct, c.duplicates, c.missing], [N, N, 0, 0]);
});

test('a second signal exits at once, even while the first one waits for a blocked stdout to drain', T, async (t) => {
  const { input, group } = await setup('twice');
  const proc = startKs(['consume', input, '--group', group]);
  // read one chunk, then stop reading: the pipe fills and the consumer's write waits
  await new Promise((resolve) => proc.child.stdout.once('data', resolve));
  proc.child.stdout.pause();
  let exited = false;
  proc.exited.then(() => (exited = true));
  await sleep(300);
  proc.child.kill('SIGINT');
  await sleep(700);
  assert.equal(exited, false, 'the first signal waits for the batch in flight');
  const t0 = Date.now();
  proc.child.kill('SIGINT');
  const r = await proc.exited;
  assert.equal(r.code, 130);
  // without the second signal's immediate exit it would wait for the unread stdout forever
  const ms = Date.now() - t0;
  t.diagnostic(`the second signal ended the run in ${ms} ms`);
  assert.ok(ms < SECOND_SIGNAL_MS, `took ${ms} ms (README: within ${SECOND_SIGNAL_MS / 1000} s)`);
  assert.doesNotMatch(r.stderr, /Error|at .*\.js/);
});
