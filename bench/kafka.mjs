#!/usr/bin/env node
// Kafka produce and consume throughput: kstream against kcat (librdkafka) on the same broker, in one run.
//   node bench/kafka.mjs [--records 1000000] [--runs 3] [--partitions 3] [--brokers host:port] [--json]
// Each run, each tool: a fresh topic; produce the generated clicks file into it, then consume it back to /dev/null
// (until the end offsets, like `kcat -e`). Prints records/s per tool and step (best of --runs) and the time ratios
// kstream/kcat; checks that every topic received exactly --records records and that both tools read them all back.
// Without --brokers or KSTREAM_BROKERS it starts (or reuses) the development broker: node scripts/kafka.mjs up.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { up, down } from '../scripts/kafka.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const PARTITIONS = Number(opt('--partitions', 3));
const node = process.execPath;
const cli = path.join(root, 'dist/src/cli.js');
const outDir = path.join(root, 'bench/out');
fs.mkdirSync(outDir, { recursive: true });
const say = (s) => process.stderr.write(s + '\n');
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const ks = `${q(node)} ${q(cli)}`;

if (spawnSync('kcat', ['-V']).status !== 0) {
  say('kcat is not installed — apt-get install -y kcat');
  process.exit(2);
}
const kcatVersion = (spawnSync('kcat', ['-V'], { encoding: 'utf8' }).stdout.match(/Version ([\w.]+)[^\n]*?librdkafka ([\w.]+)/) ?? []).slice(1);

let brokers = opt('--brokers', process.env.KSTREAM_BROKERS);
let started = false;
if (!brokers) {
  const r = await up();
  brokers = r.bootstrap;
  started = !r.reused;
}

const input = path.join(outDir, `clicks-${N}.ndjson`);
if (!fs.existsSync(input)) {
  say(`generating ${N} clicks records → ${path.relative(root, input)}`);
  execFileSync('bash', ['-c', `${ks} gen --preset clicks --count ${N} --seed 1 > ${q(input)}`], { stdio: 'inherit' });
}
const bytes = fs.statSync(input).size;
const env = { ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1' };

/** Runs a shell command; returns its wall time in seconds and its stdout. Fails the bench on a non-zero exit. */
function timed(what, cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `set -o pipefail; ${cmd}`], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { s, stdout: r.stdout };
}

const admin = (sub) => timed(`kstream topics ${sub}`, `${ks} topics ${sub}`).stdout;
function recordsIn(topic) {
  const d = JSON.parse(admin(`describe ${q(topic)} --json`));
  return d.partitions.reduce((n, p) => n + (p.end - p.start), 0);
}

const tools = {
  kstream: {
    produce: (t) => `${ks} produce ${q(t)} --quiet < ${q(input)}`,
    consume: (t, sink) => `${ks} consume ${q(t)} --offset start --exit --count ${N} ${sink}`,
  },
  kcat: {
    produce: (t) => `kcat -P -b ${q(brokers)} -t ${q(t)} -l ${q(input)}`,
    consume: (t, sink) => `kcat -C -b ${q(brokers)} -t ${q(t)} -o beginning -e -q ${sink}`,
  },
};

const best = { kstream: { produce: Infinity, consume: Infinity }, kcat: { produce: Infinity, consume: Infinity } };
const problems = [];
const tag = Date.now().toString(36);
say(`broker ${brokers}, ${N.toLocaleString('en')} records, ${PARTITIONS} partitions, ${RUNS} runs; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  for (let run = 0; run < RUNS; run++) {
    // alternate which tool goes first, so neither always gets the warmer broker
    const order = run % 2 === 0 ? ['kstream', 'kcat'] : ['kcat', 'kstream'];
    for (const tool of order) {
      const topic = `bench-${tool}-${tag}-${run}`;
      admin(`create ${q(topic)} --partitions ${PARTITIONS} --quiet`);
      try {
        const p = timed(`${tool} produce`, tools[tool].produce(topic));
        const stored = recordsIn(topic);
        if (stored !== N) problems.push(`${tool} produce run ${run + 1}: topic holds ${stored} records, expected ${N}`);
        const c = timed(`${tool} consume`, tools[tool].consume(topic, '> /dev/null'));
        best[tool].produce = Math.min(best[tool].produce, p.s);
        best[tool].consume = Math.min(best[tool].consume, c.s);
        say(`  run ${run + 1} ${tool.padEnd(7)} produce ${p.s.toFixed(2)} s, consume ${c.s.toFixed(2)} s`);
        if (run === RUNS - 1) {
          // untimed: the timed runs write to /dev/null, so count what each consumer reads once
          const n = Number(timed(`${tool} consume (count)`, tools[tool].consume(topic, '| wc -l')).stdout.trim());
          if (n !== N) problems.push(`${tool} consume read ${n} records, expected ${N}`);
        }
      } finally {
        admin(`delete ${q(topic)} --quiet`);
      }
    }
  }
} finally {
  if (started) await down();
}

const rate = (s) => Math.round(N / s);
const rows = [];
for (const step of ['produce', 'consume']) {
  for (const tool of ['kstream', 'kcat']) {
    const s = best[tool][step];
    rows.push({ step, tool, seconds: +s.toFixed(3), records_per_s: rate(s), mb_per_s: +(bytes / s / 1e6).toFixed(1), x_kcat_time: +(s / best.kcat[step]).toFixed(2) });
  }
}
const result = {
  records: N, bytes, partitions: PARTITIONS, runs: RUNS, brokers, node: process.version,
  kcat: kcatVersion[0], librdkafka: kcatVersion[1], load_average: os.loadavg().map((x) => +x.toFixed(2)),
  results: rows, ratio_produce: +(best.kstream.produce / best.kcat.produce).toFixed(2), ratio_consume: +(best.kstream.consume / best.kcat.consume).toFixed(2),
  counts_ok: problems.length === 0,
};
if (flag('--json')) console.log(JSON.stringify(result));
else {
  console.log(`\nKafka produce / consume of ${N.toLocaleString('en')} clicks records (${(bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes / N)} B each), ${PARTITIONS} partitions, best of ${RUNS}`);
  console.log(`broker ${brokers}; node ${process.version}; kcat ${result.kcat} (librdkafka ${result.librdkafka}); acks all, no compression, both tools`);
  console.log(`${'step'.padEnd(8)} ${'tool'.padEnd(8)} ${'seconds'.padStart(8)} ${'records/s'.padStart(11)} ${'MB/s'.padStart(7)} ${'× kcat time'.padStart(12)}`);
  for (const r of rows) console.log(`${r.step.padEnd(8)} ${r.tool.padEnd(8)} ${r.seconds.toFixed(3).padStart(8)} ${r.records_per_s.toLocaleString('en').padStart(11)} ${r.mb_per_s.toFixed(1).padStart(7)} ${r.x_kcat_time.toFixed(2).padStart(12)}`);
  console.log(`\nkstream/kcat time: produce ${result.ratio_produce}×, consume ${result.ratio_consume}×`);
  console.log(problems.length ? `COUNTS WRONG:\n  ${problems.join('\n  ')}` : `counts verified: every topic held ${N.toLocaleString('en')} records, both consumers read ${N.toLocaleString('en')}`);
}
if (problems.length) process.exit(1);
