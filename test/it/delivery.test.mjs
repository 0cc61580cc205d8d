// Delivery guarantees under kill -9 and signals, against the real broker at KSTREAM_BROKERS: a consuming pipeline
// is killed at points spread over the stream and restarted; then every input record's output is counted.
// The 1M-record versions of these loops are bench/delivery.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { countIds, killLoop, midStreamProblems } from '../helpers/delivery.mjs';
import { KS, run } from '../helpers/spawn.mjs';

const N = 100_000;
const FIRST_TS = 1767225600000; // gen clicks: ts = 2026-01-01 + seq ms, one per record: the record's id
const IDS = new Set(Array.from({ length: N }, (_, i) => String(FIRST_TS + i)));
const T = { timeout: 150_000 };

const { brokers, env, adm, topics, groups } = await itContext();

/** Input topic with N keyed clicks over 3 partitions, an empty 3-partition output topic, a group name. */
async function setup(what) {
  const id = `${what}-${randomUUID().slice(0, 8)}`;
  const [input, output, group] = [`it-dv-in-${id}`, `it-dv-out-${id}`, `it-dv-${id}`];
  topics.push(input, output);
  groups.push(group);
  await adm.createTopics({ topics: [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }], waitForLeaders: true });
  const r = await run(`${KS} gen --preset clicks --count ${N} --seed 1 | ${KS} produce ${input} --key r.user --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);
  return { input, output, group };
}

async function readOutput(output, isolation) {
  const r = await run(`${KS} consume ${output} --exit${isolation ? ` --isolation ${isolation}` : ''}`, { env });
  assert.equal(r.code, 0, r.stderr);
  return countIds(r.stdout, IDS);
}

/** `firstOnly`: only the first stop must land mid-stream (see the SIGTERM test). */
function report(t, label, runs, c, { firstOnly = false } = {}) {
  const kills = runs.filter((r) => r.how !== 'final');
  t.diagnostic(`${label}: ${kills.length} kills at output ${kills.map((r) => `${r.outAfter} (input committed ${r.committed}/${r.inputEnd})`).join(', ')}; ` +
    `${c.lines} output records, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing`);
  // a kill during startup or after the stream was done would prove nothing about delivery: each must land mid-stream
  assert.deepEqual(midStreamProblems(firstOnly ? [runs[0], runs[runs.length - 1]] : runs), [], firstOnly ? 'the first stop landed mid-stream' : 'every kill landed mid-stream');
}

const MAP = `map '({id: r.ts, user: r.user, ms: r.latency_ms})'`;

test('at-least-once, fused: kill -9 five times mid-stream, restart — every input record has its output', T, async (t) => {
  const { input, output, group } = await setup('alo');
  // small fetches: many batches and commits, so kills land between produce acks and offset commits
  const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --fetch-max 64k${extra} + ${MAP} + produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: N, kills: 5, seed: 11, env });
  for (const r of runs.slice(0, -1)) assert.equal(r.signal, 'SIGKILL');
  const c = await readOutput(output);
  report(t, 'fused at-least-once', runs, c);
  assert.equal(c.missing, 0, `missing ids, e.g. ${c.missingExamples.join(', ')}`);
  assert.equal(c.distinct, N);
  assert.equal(c.unexpected, 0);
  assert.equal(c.lines, c.distinct + c.duplicates);
  const offs = await adm.fetchOffsets({ groupId: group, topics: [input] });
  const ends = await adm.fetchTopicOffsets(input);
  for (const p of offs[0].partitions) assert.equal(Number(p.offset), Number(ends.find((e) => e.partition === p.partition).high), 'the last run committed the end');
});

test('at-least-once, piped: kill -9 of the consuming process loses nothing (it commits only what it wrote to the pipe)', T, async (t) => {
  const { input, output, group } = await setup('pipe-kill');
  const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --fetch-max 64k${extra} | ${KS} ${MAP} | ${KS} produce ${output} --quiet`;
  // what consume committed is in the pipe: the stages after it read it to the end (a line cut by the kill is an
  // error there, and was not committed) and produce it
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: N, kills: 4, seed: 21, env, target: 'first' });
  for (const r of runs.slice(0, -1)) assert.equal(r.signal, null, 'the shell waited for the rest of the pipeline');
  const c = await readOutput(output);
  report(t, 'piped, consume killed', runs, c);
  assert.equal(c.missing, 0, `missing ids, e.g. ${c.missingExamples.join(', ')}`);
  assert.equal(c.distinct, N);
  assert.equal(c.unexpected, 0);
});

test('at-least-once, piped: SIGTERM to every process of the pipeline drains it — nothing lost, exit 130', T, async (t) => {
  const { input, output, group } = await setup('pipe-term');
  const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --fetch-max 64k${extra} | ${KS} ${MAP} | ${KS} produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: N, kills: 4, seed: 22, env, signal: 'SIGTERM', target: 'children' });
  for (const r of runs.slice(0, -1)) assert.equal(r.code, 130, `produce drains and exits 130: ${r.stderr}`);
  const c = await readOutput(output);
  // a graceful stop drains: consume commits what it wrote to the pipe, often the whole input well before the stages
  // after it have produced it, so later stops may land after the input is committed — still a drain to check
  report(t, 'piped, SIGTERM', runs, c, { firstOnly: true });
  assert.equal(c.missing, 0, `missing ids, e.g. ${c.missingExamples.join(', ')}`);
  assert.equal(c.distinct, N);
  assert.equal(c.unexpected, 0);
  // each stop commits exactly what went down the pipe, and every stage drains it: nothing is read twice
  assert.equal(c.duplicates, 0);
});

test('exactly-once, fused: kill -9 five times mid-transaction, restart — exactly N records under read_committed', T, async (t) => {
  const { input, output, group } = await setup('eos');
  const cmd = (extra) => `${KS} consume ${input} --group ${group} --instance-id a --exactly-once --fetch-max 64k${extra} + ${MAP} + produce ${output} --quiet`;
  const runs = await killLoop({ brokers, command: cmd(''), finish: cmd(' --exit'), outTopic: output, inTopic: input, group, expected: N, kills: 5, seed: 31, env });
  const c = await readOutput(output, 'read_committed');
  report(t, 'fused exactly-once (read_committed)', runs, c);
  assert.equal(c.missing, 0, `missing ids, e.g. ${c.missingExamples.join(', ')}`);
  assert.equal(c.duplicates, 0);
  assert.equal(c.lines, N);
  assert.equal(c.unexpected, 0);
  // what the killed runs had written in open transactions is in the log, aborted: visible to read_uncommitted only
  const all = await readOutput(output, 'read_uncommitted');
  t.diagnostic(`read_uncommitted sees ${all.lines} records (${all.lines - N} from aborted transactions)`);
  assert.ok(all.lines >= N);
  // the offsets went in with the transactions: the group is at the end
  const offs = await adm.fetchOffsets({ groupId: group, topics: [input] });
  const ends = await adm.fetchTopicOffsets(input);
  for (const p of offs[0].partitions) assert.equal(Number(p.offset), Number(ends.find((e) => e.partition === p.partition).high));
});

test('--exactly-once refuses what it cannot make exactly-once, in one line', T, async () => {
  const cases = [
    [`${KS} consume t --exactly-once + produce out`, /--exactly-once needs --group/],
    [`${KS} consume t --group g --exactly-once`, /--exactly-once needs `produce` in the same process — fuse it/],
    [`${KS} consume t --group g --exactly-once + map 'r'`, /--exactly-once needs `produce` in the same process/],
    [`${KS} consume t --group g --exactly-once + produce out --acks 1`, /--exactly-once writes with --acks all/],
    [`${KS} consume t --group g --exactly-once --isolation read_uncommitted + produce out`, /--exactly-once reads with --isolation read_committed/],
    [`${KS} consume t --group g --transactional-id x + produce out`, /--transactional-id only applies with --exactly-once/],
  ];
  for (const [line, re] of cases) {
    const r = await run(line, { env });
    assert.equal(r.code, 2, `${line}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
