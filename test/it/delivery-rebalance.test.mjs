// A rebalance is routine under every guarantee: a second process joining the group of a running --exactly-once
// pipeline takes some of its input partitions, and both go on — the first one used to exit with "input partition …
// was taken over by another producer (transactional id … fenced)". Against the real broker at KSTREAM_BROKERS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext, endSum, committedSum } from '../helpers/broker.mjs';
import { countIds } from '../helpers/delivery.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';

const N = 100_000;
const FIRST_TS = 1767225600000; // gen clicks: ts = 2026-01-01 + seq ms, one per record: the record's id
const IDS = new Set(Array.from({ length: N }, (_, i) => String(FIRST_TS + i)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { env, adm, topics, groups } = await itContext();

const MAP = `map '({id: r.ts, user: r.user, ms: r.latency_ms})'`;

async function until(what, cond, ms, exited) {
  const t0 = Date.now();
  while (!(await cond())) {
    for (const [name, p] of exited) if (p.ended) assert.fail(`${name} exited (code ${p.ended.code}) while waiting for ${what}: ${p.ended.stderr}`);
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('exactly-once: a second process joins the group mid-stream — both go on, the output holds every record once', { timeout: 180_000 }, async (t) => {
  const id = randomUUID().slice(0, 8);
  const [input, output, group] = [`it-rb-in-${id}`, `it-rb-out-${id}`, `it-rb-${id}`];
  topics.push(input, output);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic: input, numPartitions: 4 }, { topic: output, numPartitions: 3 }], waitForLeaders: true });
  const r = await run(`${KS} gen --preset clicks --count ${N} --seed 1 | ${KS} produce ${input} --key r.user --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);

  // small fetches: many transactions, so the rebalance lands between and inside them
  const cmd = (inst) => `exec ${KS} consume ${input} --group ${group} --instance-id ${inst} --exactly-once --fetch-max 16k + ${MAP} + produce ${output} --quiet`;
  const procs = new Map();
  const launch = (name) => {
    const p = start(cmd(name), { env, stdin: 'ignore', stdout: 'ignore' });
    p.exited.then((e) => (p.ended = e));
    procs.set(name, p);
    return p;
  };
  try {
    launch('a');
    await until('the first process to write output', async () => (await endSum(adm, output)) > N / 10, 60_000, procs);
    const joinedAt = await endSum(adm, output);
    launch('b');
    // both share the input now: the second one must write too, and the first one must not have exited
    await until('the whole input to be committed', async () => (await committedSum(adm, group, input)) >= N, 120_000, procs);
    t.diagnostic(`b joined at output ${joinedAt}; input committed by the group`);
    for (const [name, p] of procs) assert.equal(p.ended, undefined, `${name} still runs`);
    for (const p of procs.values()) p.kill('SIGTERM');
    for (const [name, p] of procs) {
      const e = await p.exited;
      assert.equal(e.code, 130, `${name} stops on SIGTERM with 130 (signal ${e.signal}): ${e.stderr}`);
      assert.doesNotMatch(e.stderr, /fenced|taken over/, `${name}: ${e.stderr}`);
    }
  } finally {
    for (const p of procs.values()) if (!p.ended) p.kill('SIGKILL');
  }
  const out = await run(`${KS} consume ${output} --exit --isolation read_committed`, { env });
  assert.equal(out.code, 0, out.stderr);
  const c = countIds(out.stdout, IDS);
  t.diagnostic(`${c.lines} output records, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing`);
  assert.equal(c.missing, 0, `missing ids, e.g. ${c.missingExamples.join(', ')}`);
  assert.equal(c.duplicates, 0);
  assert.equal(c.lines, N);
});

// State is split by input partition (tasks) when one key groups all of it; a job whose stages group by different
// keys (here dedupe by time, aggregate by page) keeps it whole, one changelog per group restored whole: a second
// process in the group would restore the first one's windows and write over them. It is refused in one line, before
// it reads anything, and the running job goes on undisturbed.
test('a second process joining the group of a job whose state is kept whole is refused in one line; the first one goes on and counts every record once', { timeout: 180_000 }, async (t) => {
  const id = randomUUID().slice(0, 8);
  const [input, output, group] = [`it-rbs-in-${id}`, `it-rbs-out-${id}`, `it-rbs-${id}`];
  topics.push(input, output, `${group}-kstream-state`);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 1 }], waitForLeaders: true });
  const r = await run(`${KS} gen --preset clicks --count ${N} --seed 1 | ${KS} produce ${input} --key r.user --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);
  const cmd = (inst, extra = '') => `exec ${KS} consume ${input} --group ${group} --instance-id ${inst} --fetch-max 16k${extra} + dedupe --by r.ts --within 1m + window tumbling 10s --time r.ts + aggregate count --by r.page + produce ${output} --quiet`;
  const procs = new Map();
  const a = start(cmd('a'), { env, stdin: 'ignore', stdout: 'ignore' });
  a.exited.then((e) => (a.ended = e));
  procs.set('a', a);
  try {
    await until('the first process to commit input', async () => (await committedSum(adm, group, input)) > N / 10, 60_000, procs);
    const b = await run(cmd('b'), { env });
    t.diagnostic(`b: exit ${b.code}: ${b.stderr.trim()}`);
    assert.equal(b.code, 1);
    // the refusal comes at the first assignment; at-least-once restores the state before that, and says so
    const errors = b.stderr.split('\n').filter((l) => l && !l.startsWith('kstream: state: restored'));
    assert.match(errors[0] ?? '', /^kstream: group `it-rbs-[^`]+` has another member, which holds \d of the 3 input partitions: the state of `dedupe`, `window`, `aggregate` is kept whole per group — its stages group by different keys/);
    assert.equal(errors.length, 1, `one line: what, why, what to do: ${b.stderr}`);
    await until('the first process to commit the whole input', async () => (await committedSum(adm, group, input)) >= N, 120_000, procs);
    a.kill('SIGTERM');
    const e = await a.exited;
    assert.equal(e.code, 130, `a stops on SIGTERM with 130, its open windows kept in its state: ${e.stderr}`);
  } finally {
    if (!a.ended) a.kill('SIGKILL');
  }
  // restarted to the end offsets, it restores its state and closes the windows still open: its results must count
  // every record once (records it took twice after the rebalance would count twice)
  const fin = await run(cmd('a', ' --exit'), { env });
  assert.equal(fin.code, 0, fin.stderr);
  // at-least-once may repeat a result; the last one per window and page counts
  const out = await run(`${KS} consume ${output} --exit + map '[key, r.count]'`, { env });
  assert.equal(out.code, 0, out.stderr);
  const last = new Map();
  for (const line of out.stdout.split('\n')) if (line) { const [k, c] = JSON.parse(line); last.set(k, c); }
  const total = [...last.values()].reduce((x, y) => x + y, 0);
  t.diagnostic(`${last.size} windowed results, counting ${total} records`);
  assert.equal(total, N, 'every record counted once');
});
