// Scale-out the Kafka way: several kstream processes in one group split a stateful job by input partition — each
// partition a task with its own state in the changelog partition of the same number. One process is killed with -9
// mid-run and a fourth joins later; the windowed results equal a single process's. Against the real broker at
// KSTREAM_BROKERS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { itContext, committedSum } from '../helpers/broker.mjs';
import { KS, run, start } from '../helpers/spawn.mjs';
import { partitionForKey } from '../../dist/src/kafka/protocol/records.js';

const { env, adm, groupName, createTopic } = await itContext();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PARTITIONS = 6;
const N = 60_000;
/** Chunks of the input produced while the job runs; their edges fall inside windows (3 s each, one record per ms). */
const CHUNKS = [[1, 21_000], [21_001, 42_000], [42_001, N]];
const FAR = 1767225600000 + 86_400_000;
/** A page for each partition of the repartition topic (placed as Java's partitioner places the page text). */
const FLUSH_PAGES = Array.from({ length: PARTITIONS }, (_, q) => {
  for (let i = 0; ; i++) if (partitionForKey(`/flush-${i}`, PARTITIONS) === q) return `/flush-${i}`;
});
// grace: through a repartition topic, the upstream tasks of the killed process are idle until its partitions move
// (30 s), and stream time goes on without them; their records must not come too late once they do
const WINDOW = (by) => `window tumbling 3s --time r.ts --grace 2m + aggregate count 'sum(r.bytes) as bytes' --by ${by}`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-scale-'));
const input = path.join(dir, 'clicks.ndjson');
{
  const r = await run(`${KS} gen --preset clicks --count ${N} --seed 7 > ${input}`, { env });
  assert.equal(r.code, 0, r.stderr);
}

async function until(what, cond, ms, procs) {
  const t0 = Date.now();
  while (!(await cond())) {
    for (const [n, p] of procs) if (p.ended && !p.killed) assert.fail(`${n} exited (code ${p.ended.code}) while waiting for ${what}: ${p.ended.stderr}`);
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}: ${[...procs].map(([n, p]) => `\n--- ${n}:\n${p.stderr().slice(-3000)}`).join('')}`);
    await sleep(100);
  }
}

/** Windowed results as `key start count bytes` lines (the flush records' own windows, which only a bounded run closes, left out). */
function results(ndjson) {
  const out = [];
  for (const line of ndjson.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    if (r.$kstream || r.window.end > FAR) continue;
    out.push(`${r.key} ${r.window.start} ${r.count} ${r.bytes}`);
  }
  return out;
}

// by page (not the record key, the user): through a repartition topic. (By the record key, straight into tasks,
// the same test passes too — `KSTREAM_SCALE_BY_KEY=1` — and the handover test below covers that path in npm test.)
const variants = [[false, 'r.page'], [true, 'r.page']];
if (process.env.KSTREAM_SCALE_BY_KEY) variants.push([false, 'key']);
for (const [eos, by] of variants) {
  const how = eos ? 'exactly-once' : 'at-least-once';
  test(`${how}, by ${by}: three processes over 6 partitions, one killed with -9, a fourth joining later — the windowed results equal one process's`, { timeout: 240_000 }, async (t) => {
    const topic = await createTopic('scale-in', PARTITIONS);
    const group = groupName('scale');
    const outs = {};
    for (const p of ['a', 'b', 'c', 'd']) outs[p] = await createTopic(`scale-out-${p}`, 1);
    const state = `${group}-kstream-state`;
    const produce = async ([from, to]) => {
      const r = await run(`sed -n '${from},${to}p' ${input} | ${KS} produce ${topic} --key r.user --quiet`, { env });
      assert.equal(r.code, 0, r.stderr);
    };
    let want = [];
    /** Every process's windowed results so far (read_committed under --exactly-once). */
    const outputs = async () => {
      const got = [];
      const per = {};
      for (const p of ['a', 'b', 'c', 'd']) {
        const r = await run(`${KS} consume ${outs[p]} --exit${eos ? ' --isolation read_committed' : ''}`, { env });
        assert.equal(r.code, 0, r.stderr);
        per[p] = results(r.stdout);
        got.push(...per[p]);
      }
      return { got, per };
    };
    const procs = new Map();
    const launch = (p) => {
      const cmd = `exec ${KS} consume ${topic} --group ${group} --fetch-max 16k --commit-interval 200ms${eos ? ' --exactly-once' : ''} + ${WINDOW(by)} + produce ${outs[p]}`;
      const proc = start(cmd, { env, stdin: 'ignore', stdout: 'ignore' });
      proc.exited.then((e) => (proc.ended = e));
      procs.set(p, proc);
      return proc;
    };
    try {
      await produce(CHUNKS[0]);
      for (const p of ['a', 'b', 'c']) launch(p);
      await until('the three to take the first chunk', async () => (await committedSum(adm, group, topic)) >= CHUNKS[0][1], 60_000, procs);
      // b is killed mid-run: its tasks wait for its session to time out, then move with their checkpointed state
      procs.get('b').killed = true;
      procs.get('b').kill('SIGKILL');
      await produce(CHUNKS[1]);
      await until('the second chunk, b\'s partitions taken over', async () => (await committedSum(adm, group, topic)) >= CHUNKS[1][1], 90_000, procs);
      const d = launch('d');
      // the last chunk once d holds tasks (restored from what a and c checkpointed), so it has windows to emit
      await until('d to take tasks', async () => /state: took/.test(d.stderr()), 60_000, procs);
      await produce(CHUNKS[2]);
      // records far ahead in time from every input partition, with pages that reach every repartition partition:
      // every task's stream time (through a repartition, every upstream's in it) passes its windows, which close
      for (let p = 0; p < PARTITIONS; p++) {
        const lines = FLUSH_PAGES.map((page) => `{"ts":${FAR},"user":"flush","page":"${page}","bytes":0}\n`).join('');
        const r = await run(`${KS} produce ${topic} --partition ${p} --key '"flush"' --quiet`, { env, input: lines });
        assert.equal(r.code, 0, r.stderr);
      }
      await until('the whole input', async () => (await committedSum(adm, group, topic)) >= N + PARTITIONS * FLUSH_PAGES.length, 90_000, procs);
      // (through a repartition topic the windows close a moment later, in the second run of each process)
      const reference = await run(`${KS} consume ${topic} --exit + ${WINDOW(by)}`, { env });
      assert.equal(reference.code, 0, reference.stderr);
      want = results(reference.stdout);
      let missing = [];
      await until('every window to be emitted', async () => {
        const have = new Set((await outputs()).got);
        missing = want.filter((w) => !have.has(w));
        return missing.length === 0;
      }, 90_000, procs).catch((e) => assert.fail(`${missing.length} of ${want.length} windows missing, e.g. ${missing.slice(0, 5).join('; ')}: ${e.message}`));
      for (const p of ['a', 'c', 'd']) procs.get(p).kill('SIGTERM');
      for (const p of ['a', 'c', 'd']) {
        const e = await procs.get(p).exited;
        assert.equal(e.code, 130, `${p} stops on SIGTERM: ${e.stderr}`);
        for (const line of e.stderr.split('\n')) if (line.includes('state: took')) t.diagnostic(`${p}: ${line.replace(/^kstream: state: /, '')}`);
        // one line says the records go through a repartition topic, and why
        const said = e.stderr.split('\n').filter((l) => l.includes('-repartition`'));
        if (by === 'key') assert.equal(said.length, 0, e.stderr);
        else assert.match(said.join('\n'), new RegExp(`^kstream: \`aggregate\` groups by \`r.page\`, not by the record key: records go through \`${group}-aggregate-repartition\` \\(6 partitions\\)`));
      }
      assert.match(d.ended.stderr, /state: took tasks? [\d, ]+: restored [1-9][\d,]* entr/, `d resumed tasks from their checkpointed state: ${d.ended.stderr}`);
    } finally {
      for (const p of procs.values()) if (!p.ended) p.kill('SIGKILL');
    }
    const { got, per } = await outputs();
    t.diagnostic(`${want.length} windowed results; emitted by a ${per.a.length}, b ${per.b.length}, c ${per.c.length}, d ${per.d.length}`);
    assert.ok(per.d.length > 0, 'd took tasks and emitted their windows');
    assert.deepEqual([...new Set(got)].sort(), [...want].sort(), 'the same windowed results as one process');
    if (eos) assert.equal(got.length, want.length, 'each window once: no two processes owned a task at once, nothing repeated');
    // the changelog is partitioned like the input
    if (by !== 'key') {
      // each record of the repartition topic sits where Java's partitioner puts its page, with its own key, and
      // names the input partition it came from
      const rep = await run(`${KS} consume ${group}-aggregate-repartition --exit --format envelope${eos ? ' --isolation read_committed' : ''}`, { env });
      assert.equal(rep.code, 0, rep.stderr);
      const envs = rep.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.ok(envs.length >= N, `${envs.length} records went through the repartition topic`);
      for (const e of envs.slice(0, 2000)) {
        assert.equal(e.partition, partitionForKey(e.value.page, PARTITIONS), JSON.stringify(e));
        assert.equal(e.key, e.value.user);
        const up = e.headers.find((h) => h.key === 'kstream.upstream');
        assert.ok(up && /^[0-5]$/.test(up.value), JSON.stringify(e.headers));
      }
    }
    const internal = by === 'key' ? [state] : [state, `${group}-aggregate-repartition`];
    const meta = await adm.fetchTopicMetadata({ topics: internal });
    for (const m of meta.topics) assert.equal(m.partitions.length, PARTITIONS, `${m.name} is partitioned like the input`);
    await adm.deleteTopics({ topics: internal }).catch(() => {});
  });
}

// A graceful handover: the process losing tasks checkpoints and commits before it gives them up, and emits nothing
// for them after; the one gaining them resumes from that state. So even at-least-once no window is emitted twice.
test('at-least-once, by key: a second process joins — each window is emitted once, by one of them, the new one resuming from the state', { timeout: 120_000 }, async (t) => {
  const topic = await createTopic('handover-in', PARTITIONS);
  const group = groupName('handover');
  const outs = { a: await createTopic('handover-out-a', 1), b: await createTopic('handover-out-b', 1) };
  const produce = async ([from, to]) => {
    const r = await run(`sed -n '${from},${to}p' ${input} | ${KS} produce ${topic} --key r.user --quiet`, { env });
    assert.equal(r.code, 0, r.stderr);
  };
  const procs = new Map();
  const launch = (p) => {
    const proc = start(`exec ${KS} consume ${topic} --group ${group} --fetch-max 16k --commit-interval 5s + ${WINDOW('key')} + produce ${outs[p]}`, { env, stdin: 'ignore', stdout: 'ignore' });
    proc.exited.then((e) => (proc.ended = e));
    procs.set(p, proc);
    return proc;
  };
  let want;
  const emitted = async () => {
    const per = {};
    for (const p of ['a', 'b']) {
      const r = await run(`${KS} consume ${outs[p]} --exit`, { env });
      assert.equal(r.code, 0, r.stderr);
      per[p] = results(r.stdout);
    }
    return per;
  };
  try {
    await produce([1, 30_000]);
    launch('a');
    await until('a to take the first half', async () => (await committedSum(adm, group, topic)) >= 30_000, 60_000, procs);
    // a long commit interval: whatever a processed since its last checkpoint is saved by the rebalance, not the timer
    const b = launch('b');
    await until('b to take tasks', async () => /state: took/.test(b.stderr()), 60_000, procs);
    await produce([30_001, N]);
    for (let p = 0; p < PARTITIONS; p++) {
      const lines = FLUSH_PAGES.map((page) => `{"ts":${FAR},"user":"flush","page":"${page}","bytes":0}\n`).join('');
      const r = await run(`${KS} produce ${topic} --partition ${p} --key '"flush"' --quiet`, { env, input: lines });
      assert.equal(r.code, 0, r.stderr);
    }
    const reference = await run(`${KS} consume ${topic} --exit + ${WINDOW('key')}`, { env });
    want = results(reference.stdout);
    await until('every window to be emitted', async () => {
      const per = await emitted();
      const have = new Set([...per.a, ...per.b]);
      return want.every((w) => have.has(w));
    }, 90_000, procs);
    for (const p of procs.values()) p.kill('SIGTERM');
    for (const [n, p] of procs) assert.equal((await p.exited).code, 130, `${n}: ${p.ended?.stderr}`);
    t.diagnostic(b.ended.stderr.split('\n').filter((l) => l.includes('state: took')).join('; '));
    assert.match(b.ended.stderr, /state: took tasks? [\d, ]+: restored [1-9]/, 'b resumed its tasks from the state a saved');
    assert.match(procs.get('a').ended.stderr, /state: gave up tasks? [\d, ]+ \(revoked\)/);
  } finally {
    for (const p of procs.values()) if (!p.ended) p.kill('SIGKILL');
  }
  const per = await emitted();
  t.diagnostic(`${want.length} windows: a emitted ${per.a.length}, b ${per.b.length}`);
  assert.ok(per.b.length > 0);
  const all = [...per.a, ...per.b];
  assert.deepEqual([...all].sort(), [...want].sort(), 'each window once, with the counts of one process');
  await adm.deleteTopics({ topics: [`${group}-kstream-state`] }).catch(() => {});
});

// The first run writing the repartition topic is transactional, its writes committed with its input offsets: a kill
// between the two never puts a record there twice, so the state counts each record once even at-least-once. With
// --instance-id, each of the two members of the group gets its own.
test('at-least-once through a repartition topic: killed with -9 mid-run and restarted, every record is counted once', { timeout: 120_000 }, async (t) => {
  const topic = await createTopic('rp-kill-in', 3);
  const group = groupName('rp-kill');
  const n = 100_000;
  const r = await run(`${KS} gen --preset clicks --count ${n} --seed 3 | ${KS} produce ${topic} --key r.user --quiet`, { env });
  assert.equal(r.code, 0, r.stderr);
  const job = `${KS} consume ${topic} --group ${group} --instance-id one --exit --fetch-max 4k + aggregate count --by r.page --emit end`;
  for (const ms of [700, 1400]) {
    const p = start(`exec ${job} --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
    await sleep(ms);
    p.kill('SIGKILL');
    await p.exited;
  }
  const fin = await run(`${job} --quiet`, { env });
  assert.equal(fin.code, 0, fin.stderr);
  const counts = fin.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((o) => o.count !== undefined);
  const total = counts.reduce((s, o) => s + o.count, 0);
  const rep = await run(`${KS} consume ${group}-aggregate-repartition --exit --isolation read_committed --quiet`, { env });
  const through = rep.stdout.split('\n').filter(Boolean).length;
  t.diagnostic(`${counts.length} pages counting ${total} records; ${through} records committed to the repartition topic`);
  assert.equal(through, n, 'each input record once in the repartition topic');
  assert.equal(total, n, 'each record counted once');
  // envelopes cannot go through a repartition topic as they are: refused in one line
  const env1 = await run(`${KS} consume ${topic} --group ${group}-env --exit --format envelope + aggregate count --by r.value.page`, { env });
  assert.equal(env1.code, 2, env1.stderr);
  assert.match(env1.stderr, /^kstream: `aggregate` groups by `r.value.page`, not by the record key, and `consume --format envelope` records cannot go through a repartition topic as they are/);
  await adm.deleteTopics({ topics: [`${group}-kstream-state`, `${group}-aggregate-repartition`] }).catch(() => {});
});

// Under --exactly-once every batch is a transaction; output a clock tick makes (windows an idle input lets close)
// has none to go into, and used to wait for the next batch — for ever, on a quiet input. It is committed at once.
test('exactly-once: windows closed by a clock tick on a quiet input are committed without waiting for more input', { timeout: 60_000 }, async () => {
  const topic = await createTopic('tick-in', 2);
  const out = await createTopic('tick-out', 1);
  const group = groupName('tick');
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ts: 1767225600000 + i * 100, user: `u${i % 4}`, page: '/p' })).join('\n') + '\n';
  const r = await run(`${KS} produce ${topic} --key r.user --quiet`, { env, input: lines });
  assert.equal(r.code, 0, r.stderr);
  const p = start(`exec ${KS} consume ${topic} --group ${group} --exactly-once + window tumbling 1s --time r.ts --idle-flush 1s + aggregate count --by key + produce ${out} --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
  try {
    let got = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      const c = await run(`${KS} consume ${out} --exit --isolation read_committed --quiet`, { env });
      got = c.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (got.reduce((s, o) => s + o.count, 0) === 20) break;
      await sleep(500);
    }
    assert.equal(got.reduce((s, o) => s + o.count, 0), 20, `committed: ${JSON.stringify(got)}; ${p.stderr()}`);
  } finally {
    p.kill('SIGTERM');
    await p.exited;
  }
  await adm.deleteTopics({ topics: [`${group}-kstream-state`] }).catch(() => {});
});
