#!/usr/bin/env node
// Delivery guarantees at full size (the CI versions are test/it/delivery*.test.mjs with 100k records):
//   node bench/delivery.mjs [--records 1000000] [--kills 5] [--only alo,piped,eos,throughput,backpressure,restart]
// Starts its own broker (scripts/kafka.mjs on a free port; stopped at the end) so it can also restart it; with
// KSTREAM_BROKERS set it uses that broker and skips the broker restart.
// Each scenario kills or stops kstream for real and counts what reached the output topic; prints a table and
// writes bench/out/delivery.json. Checked on every run (exit 1 when one fails): each kill landed mid-stream, every
// scenario with a guarantee kept it (nothing missing; exactly once where promised), the throughput runs delivered
// every record, the backpressure run wrote every record.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { up, down, ownTarget } from '../scripts/kafka.mjs';
import { KS, run as sh, start } from '../test/helpers/spawn.mjs';
import { admin, endSum, restartBroker } from '../test/helpers/broker.mjs';
import { countIds, killLoop, midStreamProblems } from '../test/helpers/delivery.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const N = Number(opt('--records', 1_000_000));
const KILLS = Number(opt('--kills', 5));
const ONLY = new Set(String(opt('--only', 'alo,piped,eos,throughput,backpressure,restart')).split(','));
const FIRST_TS = 1767225600000;
const IDS = new Set(Array.from({ length: N }, (_, i) => String(FIRST_TS + i)));
const say = (m) => process.stderr.write(`delivery: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dir;
let brokers = process.env.KSTREAM_BROKERS;
if (!brokers) {
  const own = await ownTarget('bench-delivery');
  dir = own.dir;
  brokers = (await up(own)).bootstrap;
  say(`broker ${brokers} (${path.relative(root, dir)})`);
}
const env = { KSTREAM_BROKERS: brokers, CI: 'true', NO_COLOR: '1' };
const adm = admin(brokers);
await adm.connect();
const results = [];
const problems = [];

/** Adds a problem line for each kill of `runs` that did not land mid-stream. */
function midStream(name, runs) {
  for (const p of midStreamProblems(runs)) problems.push(`${name}: ${p}`);
}

/** Adds problem lines where count `c` breaks the guarantee: nothing missing, and (exactly) no duplicates. */
function guarantee(name, c, { exactly = false } = {}) {
  if (c.missing !== 0 || c.distinct !== N) problems.push(`${name}: ${c.missing} of ${N} missing (${c.distinct} distinct)`);
  if (c.unexpected !== 0) problems.push(`${name}: ${c.unexpected} unexpected ids`);
  if (exactly && (c.duplicates !== 0 || c.lines !== N)) problems.push(`${name}: ${c.lines} records for ${N}, ${c.duplicates} duplicates`);
}

let seq = 0;
async function topics(what, partitions = 3) {
  const id = `${what}-${Date.now().toString(36)}-${seq++}`;
  const n = { input: `bench-dv-in-${id}`, output: `bench-dv-out-${id}`, group: `bench-dv-${id}` };
  await adm.createTopics({ topics: [{ topic: n.input, numPartitions: partitions }, { topic: n.output, numPartitions: partitions }], waitForLeaders: true });
  return n;
}

async function fill(topic) {
  const t0 = Date.now();
  const r = await sh(`${KS} gen --preset clicks --count ${N} --seed 1 | ${KS} produce ${topic} --key r.user --quiet`, { env, timeout: 3_600_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return Date.now() - t0;
}

async function count(topic, isolation = 'read_uncommitted') {
  const r = await sh(`${KS} consume ${topic} --exit --isolation ${isolation}`, { env, timeout: 3_600_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return countIds(r.stdout, IDS);
}

function record(name, c, extra = {}) {
  const row = { scenario: name, records: N, output: c.lines, distinct: c.distinct, duplicates: c.duplicates, missing: c.missing, ...extra };
  results.push(row);
  say(`${name}: ${c.lines} output, ${c.distinct} distinct, ${c.duplicates} duplicates, ${c.missing} missing${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}`);
}

const MAP = `map '({id: r.ts, user: r.user, ms: r.latency_ms})'`;
const killPoints = (runs) => runs.filter((r) => r.how !== 'final').map((r) => r.outAfter).join(' ');

async function cleanup(n) {
  await adm.deleteTopics({ topics: [n.input, n.output] }).catch(() => {});
  await adm.deleteGroups([n.group]).catch(() => {});
}

try {
  if (ONLY.has('alo')) {
    const n = await topics('alo');
    await fill(n.input);
    const run = (x) => `${KS} consume ${n.input} --group ${n.group} --instance-id a${x} + ${MAP} + produce ${n.output} --quiet`;
    const t0 = Date.now();
    const runs = await killLoop({ brokers, command: run(''), finish: run(' --exit'), outTopic: n.output, inTopic: n.input, group: n.group, expected: N, kills: KILLS, seed: 101, env, log: say });
    const c = await count(n.output);
    record('fused at-least-once, kill -9 loop', c, { kills: KILLS, killedAtOutput: killPoints(runs), seconds: (Date.now() - t0) / 1000 });
    midStream('alo', runs);
    guarantee('alo', c);
    await cleanup(n);
  }
  if (ONLY.has('piped')) {
    for (const [label, signal, target] of [['piped, kill -9 of consume', 'SIGKILL', 'first'], ['piped, SIGTERM to every stage', 'SIGTERM', 'children'], ['piped, kill -9 of the whole pipeline (no guarantee)', 'SIGKILL', 'group']]) {
      const n = await topics('piped');
      await fill(n.input);
      const run = (x) => `${KS} consume ${n.input} --group ${n.group} --instance-id a${x} | ${KS} ${MAP} | ${KS} produce ${n.output} --quiet`;
      const runs = await killLoop({ brokers, command: run(''), finish: run(' --exit'), outTopic: n.output, inTopic: n.input, group: n.group, expected: N, kills: KILLS, seed: 202, env, signal, target, log: say });
      const c = await count(n.output);
      record(label, c, { kills: KILLS, killedAtOutput: killPoints(runs) });
      midStream(label, runs);
      // killing the whole pipe at once has no guarantee; killing consume alone, or SIGTERM, loses nothing
      if (target !== 'group') guarantee(label, c);
      if (signal === 'SIGTERM' && c.duplicates !== 0) problems.push(`${label}: ${c.duplicates} duplicates (a drained stop commits exactly what went down the pipe)`);
      await cleanup(n);
    }
  }
  if (ONLY.has('eos')) {
    const n = await topics('eos');
    await fill(n.input);
    const run = (x) => `${KS} consume ${n.input} --group ${n.group} --instance-id a --exactly-once${x} + ${MAP} + produce ${n.output} --quiet`;
    const t0 = Date.now();
    const runs = await killLoop({ brokers, command: run(''), finish: run(' --exit'), outTopic: n.output, inTopic: n.input, group: n.group, expected: N, kills: KILLS, seed: 303, env, log: say });
    const c = await count(n.output, 'read_committed');
    const all = await count(n.output, 'read_uncommitted');
    record('fused exactly-once, kill -9 loop (read_committed)', c, { kills: KILLS, killedAtOutput: killPoints(runs), abortedVisibleToReadUncommitted: all.lines - c.lines, seconds: (Date.now() - t0) / 1000 });
    midStream('eos', runs);
    guarantee('eos', c, { exactly: true });
    await cleanup(n);
  }
  if (ONLY.has('throughput')) {
    const n = await topics('tp');
    await fill(n.input);
    for (const [label, extra] of [['at-least-once', ''], ['exactly-once', ' --exactly-once']]) {
      const group = `${n.group}-${label}`;
      const out = `${n.output}-${label}`;
      await adm.createTopics({ topics: [{ topic: out, numPartitions: 3 }], waitForLeaders: true });
      const t0 = Date.now();
      const r = await sh(`${KS} consume ${n.input} --group ${group} --exit${extra} + ${MAP} + produce ${out} --quiet`, { env, timeout: 3_600_000 });
      const ms = Date.now() - t0;
      if (r.code !== 0) throw new Error(r.stderr);
      // the timed run delivered every record (exactly once under --exactly-once, read_committed)
      const c = await count(out, extra ? 'read_committed' : 'read_uncommitted');
      guarantee(`throughput ${label}`, c, { exactly: true });
      results.push({ scenario: `throughput, fused ${label}`, records: N, output: c.lines, seconds: ms / 1000, recordsPerSecond: Math.round(N / (ms / 1000)) });
      say(`throughput ${label}: ${N} records in ${(ms / 1000).toFixed(2)} s (${Math.round(N / (ms / 1000))} records/s)`);
      await adm.deleteTopics({ topics: [out] }).catch(() => {});
      await adm.deleteGroups([group]).catch(() => {});
    }
    await cleanup(n);
  }
  if (ONLY.has('backpressure')) {
    const n = await topics('bp');
    await fill(n.input);
    const p = start(['consume', n.input, '--exit'], { env, stdin: 'ignore', collect: false, group: false });
    const { child, exited } = p;
    const mem = () => Number(/^VmHWM:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
    let lines = 0;
    const countLines = (d) => { for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++; };
    await new Promise((r) => child.stdout.once('data', (d) => r(countLines(d))));
    child.stdout.pause();
    await sleep(10_000); // the slow reader: `| (sleep 10; cat > /dev/null)`
    const waiting = mem();
    let peak = waiting;
    const timer = setInterval(() => { try { peak = Math.max(peak, mem()); } catch { /* exited */ } }, 100);
    child.stdout.on('data', countLines);
    child.stdout.resume();
    await exited;
    clearInterval(timer);
    results.push({ scenario: 'backpressure, stdout unread 10 s', records: N, delivered: lines, peakRssWaitingMB: Math.round(waiting / 1024), peakRssMB: Math.round(peak / 1024) });
    if (lines !== N) problems.push(`backpressure: ${lines} records written, expected ${N}`);
    say(`backpressure: peak RSS ${Math.round(waiting / 1024)} MB while ${N} records waited, ${Math.round(peak / 1024)} MB overall; ${lines} records delivered`);
    await cleanup(n);
  }
  if (ONLY.has('restart') && dir) {
    const n = await topics('restart');
    await fill(n.input);
    const eosOut = `${n.output}-eos`;
    await adm.createTopics({ topics: [{ topic: eosOut, numPartitions: 3 }], waitForLeaders: true });
    const alo = start(`${KS} consume ${n.input} --group ${n.group} --instance-id a + ${MAP} + produce ${n.output} --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
    const eos = start(`${KS} consume ${n.input} --group ${n.group}-eos --instance-id a --exactly-once + ${MAP} + produce ${eosOut} --quiet`, { env, stdin: 'ignore', stdout: 'ignore' });
    while ((await endSum(adm, n.output)) < N / 3) await sleep(20);
    await adm.disconnect();
    const t0 = Date.now();
    await restartBroker(dir, { downMs: 2000 });
    const downMs = Date.now() - t0;
    await adm.connect();
    const deadline = Date.now() + 300_000;
    while ((await endSum(adm, n.output)) < N || (await endSum(adm, eosOut)) < N) {
      if (Date.now() > deadline) throw new Error('restart: the pipelines did not reach the end');
      await sleep(200);
    }
    alo.kill('SIGINT');
    eos.kill('SIGINT');
    const [a, e] = [await alo.exited, await eos.exited];
    const ca = await count(n.output);
    const ce = await count(eosOut, 'read_committed');
    record('broker kill -9 + restart, fused at-least-once', ca, { brokerAwayMs: downMs, notices: a.stderr.trim().split('\n').length });
    record('broker kill -9 + restart, fused exactly-once (read_committed)', ce, { brokerAwayMs: downMs, notices: e.stderr.trim().split('\n').length });
    guarantee('restart at-least-once', ca);
    guarantee('restart exactly-once', ce, { exactly: true });
    await adm.deleteTopics({ topics: [eosOut] }).catch(() => {});
    await cleanup(n);
  }
} finally {
  await adm.disconnect().catch(() => {});
  if (dir) await down({ dir });
}

const out = path.join(root, 'bench/out');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'delivery.json'), JSON.stringify({ records: N, kills: KILLS, results, problems }, null, 2) + '\n');
const cols = ['scenario', 'output', 'distinct', 'duplicates', 'missing', 'seconds', 'recordsPerSecond', 'peakRssWaitingMB', 'peakRssMB'];
process.stdout.write(`\n${N} records, ${KILLS} kills per loop\n`);
for (const r of results) {
  process.stdout.write(`  ${r.scenario.padEnd(58)} ${cols.slice(1).filter((c) => r[c] !== undefined).map((c) => `${c}=${r[c]}`).join(' ')}\n`);
}
process.stdout.write(problems.length ? `WRONG:\n  ${problems.join('\n  ')}\n` : 'checked: every kill mid-stream, every guarantee kept, every timed run complete\n');
if (problems.length) process.exitCode = 1;
