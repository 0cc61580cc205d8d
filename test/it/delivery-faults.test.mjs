// Broker faults: a broker of its own (scripts/kafka.mjs, same as the test broker) is killed with SIGKILL in the
// middle of a stream and started again on the same data dir. Running kstream processes reconnect by themselves
// and lose nothing: a producer fed from stdin, a fused at-least-once pipeline, a fused exactly-once pipeline.
// A run whose outage outlasts its reconnect window ends with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { admin, endSum, itContext, restartBroker } from '../helpers/broker.mjs';
import { countIds } from '../helpers/delivery.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';

const N = 60_000;
const IDS = new Set(Array.from({ length: N }, (_, i) => String(i)));
// records with their sequence number as id (clicks paced by --rate carry wall-clock times, not unique)
const TEMPLATE = `'{"id":{{seq}},"user":"u{{int 1 500}}","page":"/p{{int 1 40}}","latency_ms":{{int 1 300}},"pad":"${'x'.repeat(40)}"}'`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// a broker of this file's own: the test kills and restarts it
const { brokers, env, adm, dir } = await itContext({ own: 'it-fault' });
/** A shell pipeline in its own process group, its stdout dropped; `exited` resolves { code, signal, stderr }. */
const startGroup = (command, e) => start(command, { env: e, stdin: 'ignore', stdout: 'ignore' });

async function waitFor(cond, what, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('broker killed and restarted mid-stream: stdin producer, fused at-least-once and exactly-once pipelines resume and lose nothing', { timeout: 175_000 }, async (t) => {
  const [input, alo, eos] = ['in', 'out-alo', 'out-eos'];
  await adm.createTopics({ topics: [input, alo, eos].map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });

  const MAP = `map '({id: r.id, user: r.user})'`;
  const fused = startGroup(`${KS} consume ${input} --group g-alo --instance-id a + ${MAP} + produce ${alo} --quiet`, env);
  const exact = startGroup(`${KS} consume ${input} --group g-eos --instance-id a --exactly-once + ${MAP} + produce ${eos} --quiet`, env);
  // a follower that tolerates 2 s without brokers: the restart takes longer
  const impatient = startGroup(`${KS} consume ${input} --group g-short > /dev/null`, { ...env, KSTREAM_RECONNECT_MS: '2000' });
  const probe = admin(brokers);
  await probe.connect();
  await waitFor(async () => {
    const d = await probe.describeGroups(['g-alo', 'g-eos', 'g-short']);
    return d.groups.every((g) => g.state === 'Stable');
  }, 'the pipelines to join their groups');
  // the input arrives at a constant rate while everything runs: the producer is mid-stream at the kill too
  const producer = startGroup(`${KS} gen --template ${TEMPLATE} --count ${N} --seed 3 --rate 5000 | ${KS} produce ${input} --key r.user`, env);
  // kill once both pipelines are well into the stream, or at half the input at the latest, so that the producer
  // cannot have finished before the kill even when a pipeline lags on a busy machine
  await waitFor(async () => ((await endSum(probe, alo)) >= N / 4 && (await endSum(probe, eos)) >= N / 5) || (await endSum(probe, input)) >= N / 2, 'a quarter of the stream');
  const at = await endSum(probe, alo);
  await probe.disconnect();
  const t0 = Date.now();
  await restartBroker(dir, { downMs: 1000 });
  t.diagnostic(`broker killed at ${at} output records, answering again after ${Date.now() - t0} ms`);

  const p = await producer.exited;
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /kstream: cannot (reach|talk to) brokers `.*`.*; reconnecting for up to 120s\n/);
  assert.match(p.stderr, /kstream: reconnected to `.*` after [\d.]+s\n/);
  assert.match(p.stderr, new RegExp(`produced (\\d+) records`));
  assert.doesNotMatch(p.stderr, /Error|at .*\.js:\d+|Warning/);

  const check = admin(brokers);
  await check.connect();
  try {
    // within the reconnect window (120 s): once, on a loaded CI machine, the at-least-once pipeline needed over 60 s
    await waitFor(async () => (await endSum(check, alo)) >= N && (await endSum(check, eos)) >= N, 'both pipelines to reach the end', 110_000);
  } catch (e) {
    for (const p of [fused, exact]) p.kill('SIGKILL');
    const why = [`at-least-once output ${await endSum(check, alo)}`, `exactly-once output ${await endSum(check, eos)}`];
    for (const p of [fused, exact]) why.push((await p.exited).stderr);
    throw new Error(`${e.message}: ${why.join('\n')}`);
  }
  await check.disconnect();
  fused.kill('SIGINT');
  exact.kill('SIGINT');
  for (const p of [fused, exact]) {
    const r = await p.exited;
    assert.doesNotMatch(r.stderr, /Error|at .*\.js:\d+|Warning/, r.stderr);
  }

  const read = async (topic, isolation, field) => {
    const r = await run(`${KS} consume ${topic} --exit --isolation ${isolation}`, { env });
    assert.equal(r.code, 0, r.stderr);
    return countIds(r.stdout, IDS, field);
  };
  const inp = await read(input, 'read_uncommitted');
  t.diagnostic(`input: ${inp.lines} records, ${inp.distinct} distinct, ${inp.duplicates} resent by the producer`);
  assert.equal(inp.missing, 0, `input lost records, e.g. ${inp.missingExamples}`);
  const a = await read(alo, 'read_uncommitted');
  t.diagnostic(`at-least-once output: ${a.lines} records, ${a.distinct} distinct, ${a.duplicates} duplicates`);
  assert.equal(a.missing, 0, `at-least-once lost records, e.g. ${a.missingExamples}`);
  assert.equal(a.distinct, N);
  const e = await read(eos, 'read_committed');
  t.diagnostic(`exactly-once output: ${e.lines} records, ${e.distinct} distinct`);
  // every input record once — input duplicates (the producer's resends) are input records too
  assert.equal(e.missing, 0, `exactly-once lost records, e.g. ${e.missingExamples}`);
  assert.equal(e.lines, inp.lines);

  const r = await impatient.exited;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /kstream: cannot (reach|talk to) brokers `.*`.*; reconnecting for up to 2s\nkstream: cannot (reach|talk to) brokers `.*` \(.*\), gave up after \d+s of reconnecting — /);
  assert.equal(r.stderr.trim().split('\n').length, 2, r.stderr);
});

test('unreachable at start: one line within seconds, no reconnecting', { timeout: 30_000 }, async () => {
  const t0 = Date.now();
  const r = await run(`${KS} consume anything --group g --brokers 127.0.0.1:1`, { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'kstream: cannot reach brokers `127.0.0.1:1` (connection refused) — start one with `npm run kafka:up` or set KSTREAM_BROKERS\n');
  // README, "Connection": "An unreachable broker fails within about two seconds" (2 s and half again for a loaded
  // machine, as in it/consume-produce)
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.ok(fs.existsSync(dir));
});
