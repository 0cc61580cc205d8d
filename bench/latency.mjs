#!/usr/bin/env node
// End-to-end latency through Kafka at a constant rate: kstream against kcat (librdkafka), on the same broker, in one run.
//   node bench/latency.mjs [--rates 20000,100000] [--duration 10] [--warmup 10] [--partitions 3] [--runs 1] [--brokers host:port]
//                          [--steady-after 1] [--broker-pid N] [--only ks-ks,kcat-kcat,ks-kcat,kcat-ks,bench] [--cli path] [--out latency.json]
//                          [--json] [--check]
// Every scenario runs on a fresh topic: the consumer starts first (`--offset end`, waits until it is connected), then
// `kstream gen --rate R --duration D` is piped into the producer. `gen --rate` stamps each record's `ts` with its
// intended send time, and `kstream stats --latency-from r.ts` at the consumer's end measures now − ts, so a stall
// anywhere (gen, producer, broker, consumer) shows in every record it delayed. Scenarios:
//   ks-ks      kstream gen | kstream produce T          kstream consume T --offset end + stats --latency-from r.ts
//   kcat-kcat  kstream gen | kcat -P -t T               kcat -C -o end -u | kstream stats --latency-from r.ts
//   ks-kcat    kstream gen | kstream produce T          kcat consumer (as above): the producing side's share
//   kcat-ks    kstream gen | kcat -P -t T               kstream consumer (as above): the consuming side's share
//   bench      kstream bench --brokers B --rate R --duration D (one process; its own latency measurement)
// Before the runs, each tool produces and consumes for --warmup seconds unmeasured: a fresh broker's JIT is cold.
// Each consumer summarises the whole run and, apart, the steady state: the records that arrived after the first
// --steady-after seconds (stats --warmup), without the start-up (a Node process needs ~130 ms more than gen to load
// and connect, and gen's schedule runs from its own start). --check judges the whole run.
// Broker CPU: the broker JVM's utime+stime (/proc/<pid>/stat) from just before the producer starts until the consumer
// has every record, per record produced. ks-kcat against kcat-kcat compares the two producers with the same consumer.
// Without --brokers (or KSTREAM_BROKERS) it starts its own broker on a free port (stopped at the end), so nothing
// else runs on it; with --brokers, pass --broker-pid for the CPU figures (else looked up with `ss -ltnp`).
// --cli: the kstream CLI whose produce, consume and bench are measured (another build, for before/after); gen and
// stats always come from this tree. Prints a table per rate, writes bench/out/latency.json; --check exits 1 when a target is missed:
//   ks-ks p99 ≤ 10 ms and ≤ kcat-kcat's p99, ks-ks p99.9 ≤ 25 ms, kstream's producer broker CPU/record ≤ kcat's × 1.1.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flag, kcatVersions, ks, node, opt, outDir, q, requireKcat, say, root } from './common.mjs';

const RATES = String(opt('--rates', '20000,100000')).split(',').map(Number);
const DURATION = Number(opt('--duration', 10));
const PARTITIONS = Number(opt('--partitions', 3));
const RUNS = Number(opt('--runs', 1));
const ALL = ['ks-ks', 'kcat-kcat', 'ks-kcat', 'kcat-ks', 'bench'];
const ONLY = String(opt('--only', ALL.join(','))).split(',');
/** Longest a consumer may take to connect, and to read the last record after the producer ended. */
const READY_TIMEOUT_MS = 20_000;
const DRAIN_TIMEOUT_MS = 30_000;
/** Unmeasured warm-up of the broker, per tool (see below). */
const WARMUP_S = Number(opt('--warmup', 10));
/** Settle time after the consumer's connection is up (its offsets lookup and first fetch). */
const SETTLE_MS = 1500;
/** Targets (--check). */
const P99_MS = 10;
const P999_MS = 25;
/** Broker CPU per record of kstream's producer against kcat's: measurement noise allowance. */
const CPU_SLACK = 1.1;
/** The kstream measured (produce, consume, bench). */
const KS = opt('--cli') ? `${q(node)} ${q(path.resolve(opt('--cli')))}` : ks;

requireKcat();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// --- the broker ------------------------------------------------------------------------------------------------
let brokers = opt('--brokers', process.env.KSTREAM_BROKERS);
let brokerPid = opt('--broker-pid') ? Number(opt('--broker-pid')) : undefined;
let stopBroker = async () => {};
if (!brokers) {
  const { up, down, ownTarget } = await import('../scripts/kafka.mjs');
  const own = await ownTarget('bench-latency');
  const r = await up(own);
  brokers = r.bootstrap;
  brokerPid = r.pid;
  stopBroker = () => down({ dir: own.dir });
  say(`own broker ${brokers} (pid ${brokerPid})`);
} else if (brokerPid === undefined) {
  const port = brokers.split(',')[0].split(':').pop();
  const m = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' }).stdout.match(/pid=(\d+)/);
  brokerPid = m ? Number(m[1]) : undefined;
  if (brokerPid === undefined) say(`broker pid of ${brokers} not found: no broker CPU figures (pass --broker-pid)`);
}
const env = { ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1', CI: 'true' };
// Ctrl-C or a kill ends through process.exit, so the own broker is stopped (ownTarget's exit hook), and so are the
// pipelines still running (each in a process group of its own)
const live = new Set();
process.on('exit', () => { for (const pid of live) try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const brokerPort = brokers.split(',')[0].split(':').pop();

/** The broker JVM's CPU seconds so far (user + system), or NaN. */
function brokerCpu() {
  if (brokerPid === undefined) return NaN;
  try {
    // fields after the parenthesised command: state is field 3, utime 14, stime 15
    const f = fs.readFileSync(`/proc/${brokerPid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

// --- processes -------------------------------------------------------------------------------------------------
/** Runs a shell pipeline; resolves with its exit code, stdout and stderr. `child` is the bash process. */
function start(cmd) {
  const child = spawn('bash', ['-c', `set -o pipefail; ${cmd}`], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  live.add(child.pid);
  const done = new Promise((resolve) => child.on('close', (code, signal) => {
    live.delete(child.pid);
    resolve({ code: code ?? signal, stdout, stderr });
  }));
  return { child, done };
}

/** The pids of a process and all its descendants. */
function tree(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      /* gone */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** Waits until a process of the pipeline has a connection to the broker port established, plus SETTLE_MS. */
async function connected(proc, what) {
  const t0 = Date.now();
  while (Date.now() - t0 < READY_TIMEOUT_MS) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited early`);
    const pids = new Set(tree(proc.child.pid));
    const ss = spawnSync('ss', ['-tnpH', 'state', 'established', `dport = :${brokerPort}`], { encoding: 'utf8' }).stdout;
    if ([...ss.matchAll(/pid=(\d+)/g)].some((m) => pids.has(Number(m[1])))) {
      await sleep(SETTLE_MS);
      return;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not connect to ${brokers} within ${READY_TIMEOUT_MS / 1000} s`);
}

function kill(proc, signal = 'SIGINT') {
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    /* gone */
  }
}

function admin(sub) {
  const r = spawnSync('bash', ['-c', `${ks} topics ${sub}`], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kstream topics ${sub}: ${r.stderr.trim()}`);
}

// --- the scenarios ---------------------------------------------------------------------------------------------
const producers = {
  ks: (t, r, d) => `${ks} gen --rate ${r} --duration ${d}s | ${KS} produce ${q(t)} --quiet`,
  kcat: (t, r, d) => `${ks} gen --rate ${r} --duration ${d}s | kcat -P -b ${q(brokers)} -t ${q(t)}`,
};
// Two summaries of one run, fused in the consumer's stats: the whole run (its report on stderr, --tee) and the
// steady state, leaving out the records that arrived in the first STEADY_AFTER_S (a process's start-up: the
// producer connecting while gen's schedule already runs, cold JIT, the backlog drained). A --cli build without
// `stats --warmup` reports the whole run only.
const STEADY_AFTER_S = Number(opt('--steady-after', 1));
const hasWarmup = (cli) => spawnSync('bash', ['-c', `${cli} stats --help`], { encoding: 'utf8' }).stdout.includes('--warmup');
const twoStats = (cli) => (hasWarmup(cli) ? `stats --latency-from r.ts --json --tee + stats --latency-from r.ts --json --warmup ${STEADY_AFTER_S}s` : 'stats --latency-from r.ts --json');
const consumers = {
  ks: (t, n) => `${KS} consume ${q(t)} --offset end --count ${n} + ${twoStats(KS)}`,
  kcat: (t, n) => `kcat -C -b ${q(brokers)} -t ${q(t)} -o end -u -q -c ${n} | ${ks} ${twoStats(ks)}`,
};

const tag = Date.now().toString(36);
let seq = 0;

/** One producer → consumer run at `rate`: latency percentiles, broker CPU per record, gen's lag. */
async function pair(prod, cons, rate, duration = DURATION) {
  const n = rate * duration;
  const topic = `lat-${tag}-${seq++}-${prod}-${cons}`;
  admin(`create ${q(topic)} --partitions ${PARTITIONS} --quiet`);
  try {
    const c = start(consumers[cons](topic, n));
    try {
      await connected(c, `${cons} consumer`);
    } catch (e) {
      kill(c);
      throw e;
    }
    const cpu0 = brokerCpu();
    const t0 = Date.now();
    const p = await start(producers[prod](topic, rate, duration)).done;
    if (p.code !== 0) {
      kill(c);
      throw new Error(`${prod} producer failed (exit ${p.code}): ${p.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const timer = setTimeout(() => kill(c), DRAIN_TIMEOUT_MS);
    const r = await c.done;
    clearTimeout(timer);
    const cpu = brokerCpu() - cpu0;
    const wall = (Date.now() - t0) / 1000;
    let stats;
    let steady;
    try {
      const last = JSON.parse(r.stdout.trim().split('\n').pop());
      const whole = r.stderr.split('\n').filter((x) => x.startsWith('{"count"')).pop();
      [stats, steady] = last.warmup && whole ? [JSON.parse(whole), last.latency_ms] : [last, undefined];
    } catch {
      throw new Error(`${cons} consumer gave no report (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const l = stats.latency_ms;
    const behind = p.stderr.match(/max_behind_ms=(\d+)/);
    return {
      scenario: `${prod}-${cons}`, rate, records: n, received: l.count,
      p50: l.p50, p99: l.p99, p999: l['p99.9'], max: l.max,
      steady_p99: steady?.p99 ?? null, steady_p999: steady?.['p99.9'] ?? null, steady_max: steady?.max ?? null,
      broker_cpu_s: +cpu.toFixed(2), broker_cpu_us_per_record: +((cpu / n) * 1e6).toFixed(2),
      gen_max_behind_ms: behind ? Number(behind[1]) : 0, seconds: +wall.toFixed(1),
    };
  } finally {
    admin(`delete ${q(topic)} --quiet`);
  }
}

/** `kstream bench --brokers` at `rate`. */
async function benchCmd(rate) {
  const cpu0 = brokerCpu();
  const r = await start(`${KS} bench --brokers ${q(brokers)} --rate ${rate} --duration ${DURATION}s --partitions ${PARTITIONS} --json`).done;
  const cpu = brokerCpu() - cpu0;
  if (r.code !== 0) throw new Error(`kstream bench failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const b = JSON.parse(r.stdout.trim().split('\n').pop());
  const l = b.latency_ms;
  return {
    scenario: 'bench', rate, records: b.produced, received: b.consumed,
    p50: l.p50, p99: l.p99, p999: l['p99.9'], max: l.max,
    broker_cpu_s: +cpu.toFixed(2), broker_cpu_us_per_record: +((cpu / b.produced) * 1e6).toFixed(2),
    gen_max_behind_ms: Math.round(b.max_behind_ms), event_loop_delay_ms: b.event_loop_delay_ms, ack_p99: b.ack_ms.p99,
  };
}

const SCENARIOS = [['ks', 'ks'], ['kcat', 'kcat'], ['ks', 'kcat'], ['kcat', 'ks']].filter(([p, c]) => ONLY.includes(`${p}-${c}`));
const rows = [];
const loads = [];
say(`broker ${brokers}; rates ${RATES.join(', ')} records/s for ${DURATION} s; ${PARTITIONS} partitions; ${RUNS} run(s); load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  // A fresh broker's JIT is cold: whichever scenario ran first paid for it (twice the broker CPU per record, a
  // longer tail). Both tools' produce and fetch paths go through it once, unmeasured, before the runs.
  say(`  warm-up: ${WARMUP_S} s of ks-ks and kcat-kcat at ${Math.max(...RATES)}/s, not measured`);
  for (const [prod, cons] of [['ks', 'ks'], ['kcat', 'kcat']]) await pair(prod, cons, Math.max(...RATES), WARMUP_S);
  for (let run = 0; run < RUNS; run++) {
    for (const [ri, rate] of RATES.entries()) {
      // alternate the order per run and rate, so no tool always comes first or last
      const order = (run + ri) % 2 === 0 ? SCENARIOS : [...SCENARIOS].reverse();
      for (const [prod, cons] of order) {
        loads.push(os.loadavg()[0]);
        const row = { run: run + 1, ...(await pair(prod, cons, rate)) };
        rows.push(row);
        say(`  run ${run + 1} ${String(rate).padStart(6)}/s ${row.scenario.padEnd(9)} p50 ${row.p50} p99 ${row.p99} p99.9 ${row.p999} max ${row.max} ms; broker ${row.broker_cpu_us_per_record} µs/record; gen behind ≤ ${row.gen_max_behind_ms} ms; load ${os.loadavg()[0].toFixed(2)}`);
      }
      if (ONLY.includes('bench')) {
        loads.push(os.loadavg()[0]);
        const row = { run: run + 1, ...(await benchCmd(rate)) };
        rows.push(row);
        say(`  run ${run + 1} ${String(rate).padStart(6)}/s bench     p50 ${row.p50} p99 ${row.p99} p99.9 ${row.p999} max ${row.max} ms; event loop max ${row.event_loop_delay_ms?.max} ms; load ${os.loadavg()[0].toFixed(2)}`);
      }
    }
  }
} finally {
  await stopBroker();
}

// --- summary: medians (and ranges) over the runs ----------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const KEYS = ['p50', 'p99', 'p999', 'max', 'steady_p99', 'steady_p999', 'steady_max', 'broker_cpu_us_per_record', 'gen_max_behind_ms'];
const summary = [];
for (const rate of RATES) {
  for (const scenario of [...SCENARIOS.map(([p, c]) => `${p}-${c}`), ...(ONLY.includes('bench') ? ['bench'] : [])]) {
    const rs = rows.filter((r) => r.rate === rate && r.scenario === scenario);
    if (!rs.length) continue;
    const s = { rate, scenario, runs: rs.length, short: rs.some((r) => r.received < r.records) };
    for (const k of KEYS) {
      const xs = rs.map((r) => r[k]).filter((x) => typeof x === 'number' && Number.isFinite(x));
      s[k] = xs.length ? +median(xs).toFixed(3) : null;
      s[`${k}_range`] = xs.length ? [Math.min(...xs), Math.max(...xs)] : null;
    }
    summary.push(s);
  }
}
const find = (rate, scenario) => summary.find((s) => s.rate === rate && s.scenario === scenario);
const ratio = (a, b) => (a != null && b ? +(a / b).toFixed(2) : null);
const checks = [];
const steadyNotes = [];
const perRate = RATES.map((rate) => {
  const a = find(rate, 'ks-ks');
  const k = find(rate, 'kcat-kcat');
  const pk = find(rate, 'ks-kcat');
  const r = {
    rate,
    p99_ratio: ratio(a?.p99, k?.p99),
    p999_ratio: ratio(a?.p999, k?.p999),
    steady_p99_ratio: ratio(a?.steady_p99, k?.steady_p99),
    steady_p999_ratio: ratio(a?.steady_p999, k?.steady_p999),
    // the producers compared with the same (kcat) consumer
    broker_cpu_ratio: ratio(pk?.broker_cpu_us_per_record, k?.broker_cpu_us_per_record),
  };
  if (a) {
    checks.push([`${rate}/s ks-ks p99 ${a.p99} ms ≤ ${P99_MS} ms`, a.p99 <= P99_MS]);
    checks.push([`${rate}/s ks-ks p99.9 ${a.p999} ms ≤ ${P999_MS} ms`, a.p999 <= P999_MS]);
    checks.push([`${rate}/s ks-ks received every record`, !a.short]);
  }
  if (a && k) checks.push([`${rate}/s ks-ks p99 ${a.p99} ms ≤ kcat-kcat p99 ${k.p99} ms`, a.p99 <= k.p99]);
  // steady state: told apart from the whole run, never in its place (--check judges the whole run)
  if (a?.steady_p99 != null && k?.steady_p99 != null) {
    steadyNotes.push([`${rate}/s ks-ks steady p99 ${a.steady_p99} ms ≤ ${P99_MS} ms and ≤ kcat-kcat's ${k.steady_p99} ms`, a.steady_p99 <= P99_MS && a.steady_p99 <= k.steady_p99]);
    steadyNotes.push([`${rate}/s ks-ks steady p99.9 ${a.steady_p999} ms ≤ ${P999_MS} ms`, a.steady_p999 <= P999_MS]);
  }
  if (r.broker_cpu_ratio !== null) checks.push([`${rate}/s broker CPU/record kstream producer ${pk.broker_cpu_us_per_record} µs ≤ ${CPU_SLACK} × kcat's ${k.broker_cpu_us_per_record} µs`, r.broker_cpu_ratio <= CPU_SLACK]);
  return r;
});

const [kcatVersion, librdkafka] = kcatVersions();
const result = {
  cli: opt('--cli') ? path.resolve(opt('--cli')) : path.join(root, 'dist/src/cli.js'), brokers, partitions: PARTITIONS, duration_s: DURATION, rates: RATES, runs: RUNS, node: process.version, kcat: kcatVersion, librdkafka,
  load_average_at_start_of_each: loads.map((x) => +x.toFixed(2)), load_average_end: os.loadavg().map((x) => +x.toFixed(2)),
  rows, summary, ratios: perRate, checks: checks.map(([what, ok]) => ({ what, ok })),
  steady_after_s: STEADY_AFTER_S, steady: steadyNotes.map(([what, ok]) => ({ what, ok })),
};
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, opt('--out', 'latency.json'));
fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

if (flag('--json')) console.log(JSON.stringify(result));
else {
  const f = (x) => (x == null ? '—' : String(x));
  const rg = (r) => (r && RUNS > 1 ? ` (${r[0]}–${r[1]})` : '');
  console.log(`\nEnd-to-end latency (ms, from each record's intended send time), ${PARTITIONS} partitions, ${DURATION} s per run, median of ${RUNS} run(s)`);
  console.log(`broker ${brokers}; node ${process.version}; kcat ${kcatVersion} (librdkafka ${librdkafka}); load at the start of the runs ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`);
  for (const rate of RATES) {
    console.log(`\n${rate.toLocaleString('en')} records/s`);
    console.log(`${''.padEnd(18)} ${'whole run'.padStart(14 + 16 + 16 + 16 + 3)}   ${`after the first ${STEADY_AFTER_S} s`.padStart(16 + 16 + 1)}`);
    console.log(`${'producer-consumer'.padEnd(18)} ${'p50'.padStart(14)} ${'p99'.padStart(16)} ${'p99.9'.padStart(16)} ${'max'.padStart(16)}   ${'p99'.padStart(16)} ${'p99.9'.padStart(16)} ${'broker µs/rec'.padStart(18)} ${'gen behind ms'.padStart(14)}`);
    for (const s of summary.filter((x) => x.rate === rate)) {
      console.log(`${(s.scenario + (s.short ? ' SHORT' : '')).padEnd(18)} ${(f(s.p50) + rg(s.p50_range)).padStart(14)} ${(f(s.p99) + rg(s.p99_range)).padStart(16)} ${(f(s.p999) + rg(s.p999_range)).padStart(16)} ${(f(s.max) + rg(s.max_range)).padStart(16)}   ${(f(s.steady_p99) + rg(s.steady_p99_range)).padStart(16)} ${(f(s.steady_p999) + rg(s.steady_p999_range)).padStart(16)} ${(f(s.broker_cpu_us_per_record) + rg(s.broker_cpu_us_per_record_range)).padStart(18)} ${f(s.gen_max_behind_ms).padStart(14)}`);
    }
    const r = perRate.find((x) => x.rate === rate);
    console.log(`kstream/kcat: p99 ${f(r.p99_ratio)}×, p99.9 ${f(r.p999_ratio)}× (after the first ${STEADY_AFTER_S} s: ${f(r.steady_p99_ratio)}×, ${f(r.steady_p999_ratio)}×); broker CPU per record of kstream's producer ${f(r.broker_cpu_ratio)}× kcat's`);
  }
  console.log('');
  for (const [what, ok] of checks) console.log(`${ok ? 'ok  ' : 'MISS'} ${what}`);
  for (const [what, ok] of steadyNotes) console.log(`${ok ? 'ok  ' : 'miss'} ${what} (steady state, told apart; --check judges the whole run)`);
  console.log(`\nwritten ${path.relative(root, outFile)}`);
}
if (flag('--check') && checks.some(([, ok]) => !ok)) process.exit(1);
