#!/usr/bin/env node
// Windowed aggregation throughput and memory: generated records (--data clicks|wide) through
//   window tumbling 1m --time r.ts + aggregate count 'avg(r.latency_ms)' 'p99(r.latency_ms)' --by r.page
// fused (one process) and piped (`window … | aggregate …`, two processes), for 1M and 10M records.
//   node bench/windows.mjs [--sizes 1000000,10000000] [--runs 3] [--data clicks|wide] [--cli dist/src/cli.js] [--check]
// Runs every variant once per round (the order turning) and prints the median (range) of the rounds' seconds, and of
// each round's ratio to the decode-only reference; peak RSS per run (piped: the larger of the two processes).
// Checks on every run: the windows' counts add up to the input's records (generated in time order: none is late),
// the reference's filter matches none, and every run of a variant wrote the same bytes; and that fused and piped
// wrote the same bytes (exit 1 otherwise). Target: the 10M/1M peak-RSS ratio of the fused run (state is bounded by
// open windows × keys, so it should stay near 1) <= 1.5; a miss exits 1 under --check.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { check, cli, clicksInput, DATA, fmtSpread, node, opt, outDir, spread } from './common.mjs';

const SIZES = String(opt('--sizes', '1000000,10000000')).split(',').map(Number);
const RUNS = Number(opt('--runs', 3));
fs.mkdirSync(outDir, { recursive: true });
const TIME = '/usr/bin/time';
const hasTime = fs.existsSync(TIME);

const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const WINDOW = ['window', 'tumbling', '1m', '--time', 'r.ts'];
const AGGREGATE = ['aggregate', 'count', 'avg(r.latency_ms)', 'p99(r.latency_ms)', '--by', 'r.page'];
const sh = (argv) => argv.map(q).join(' ');
// Each kstream process under /usr/bin/time, its peak RSS (KB) written to its own file.
const timed = (argv, rssFile) => (hasTime ? `${TIME} -f %M -o "${rssFile}" ` : '') + `"${node}" "${cli}" ${sh(argv)}`;

const input = (n) => clicksInput(n, { seed: 3 }).input;

/** The records a run's output accounts for: the sum of the windows' counts; and its line count. */
function counted(text) {
  let records = 0;
  let lines = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    lines++;
    const o = JSON.parse(line);
    if (typeof o.count === 'number') records += o.count;
  }
  return { records, lines };
}

const variants = [
  { name: 'fused', stages: [[...WINDOW, '+', ...AGGREGATE]] },
  { name: 'piped (2 processes)', stages: [WINDOW, AGGREGATE] },
  // Reference: decoding the same three fields and nothing else (one thread), the floor for the fused run.
  { name: 'decode only (reference)', stages: [['filter', 'r.ts < 0 && r.latency_ms >= 0 && r.page !== 1']], env: 'KSTREAM_WORKERS=0 ', reference: true },
];

const results = [];
const problems = [];
for (const n of SIZES) {
  const file = input(n);
  const bytes = fs.statSync(file).size;
  const per = new Map(variants.map((v) => [v.name, { times: [], rss: [], digest: '' }]));
  // rounds: every variant once per round, the order turning, so load from elsewhere spreads over all of them
  for (let r = 0; r < RUNS; r++) {
    for (const v of variants.map((_, k) => variants[(k + r) % variants.length])) {
      const m = per.get(v.name);
      const out = path.join(outDir, 'windows-out.ndjson');
      const rssFiles = v.stages.map((_, i) => path.join(outDir, `windows-rss-${i}.txt`));
      const cmd = `set -o pipefail; ${v.env ?? ''}` + v.stages.map((st, i) => timed(st, rssFiles[i]) + (i === 0 ? ` < "${file}"` : '')).join(' | ') + ` > "${out}"`;
      const t0 = process.hrtime.bigint();
      const res = spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (res.status !== 0) throw new Error(`${v.name} (${n}) failed (exit ${res.status})`);
      m.times.push(s);
      if (hasTime) m.rss.push(Math.max(...rssFiles.map((f) => Number(fs.readFileSync(f, 'utf8').trim().split('\n').pop()))));
      const text = fs.readFileSync(out, 'utf8');
      const d = createHash('sha256').update(text).digest('hex').slice(0, 12);
      if (m.digest && d !== m.digest) problems.push(`${v.name} (${n}) run ${r + 1} wrote other bytes than run 1`);
      m.digest = d;
      // every run: the windows account for every input record; the reference's filter keeps none
      const c = counted(text);
      if (v.reference ? c.lines !== 0 : c.records !== n) problems.push(`${v.name} (${n}) run ${r + 1}: ${v.reference ? `${c.lines} lines, expected none` : `window counts add up to ${c.records}, expected ${n}`}`);
      fs.rmSync(out);
      for (const f of rssFiles) fs.rmSync(f, { force: true });
      process.stderr.write(`  ${String(n).padStart(9)} round ${r + 1} ${v.name.padEnd(24)} ${s.toFixed(2)} s\n`);
    }
  }
  const ref = per.get(variants.find((v) => v.reference).name).times;
  for (const v of variants) {
    const m = per.get(v.name);
    results.push({ n, bytes, name: v.name, reference: !!v.reference, seconds: spread(m.times), x_decode: spread(m.times.map((t, i) => t / ref[i])), rss: m.rss.length ? Math.max(...m.rss) : undefined, digest: m.digest });
  }
}

const mb = (kb) => (kb === undefined ? '-' : `${Math.round(kb / 1024)} MB`);
console.log(`\nwindow tumbling 1m + aggregate count avg p99 --by r.page over generated ${DATA} records (seed 3), median (range) of ${RUNS} interleaved rounds, node ${process.version}`);
console.log(`${'records'.padStart(11)} ${'variant'.padEnd(24)} ${'seconds'.padStart(20)} ${'records/s'.padStart(11)} ${'× decode only'.padStart(18)} ${'peak RSS'.padStart(9)}  output`);
for (const r of results) {
  console.log(`${r.n.toLocaleString('en').padStart(11)} ${r.name.padEnd(24)} ${fmtSpread(r.seconds, 3).padStart(20)} ${Math.round(r.n / r.seconds.median).toLocaleString('en').padStart(11)} ${fmtSpread(r.x_decode).padStart(18)} ${mb(r.rss).padStart(9)}  ${r.reference ? '' : `sha256:${r.digest}`}`);
}

for (const n of SIZES) {
  const [f, p] = ['fused', 'piped (2 processes)'].map((name) => results.find((r) => r.n === n && r.name === name));
  const same = f.digest === p.digest;
  if (!same) problems.push(`${n}: fused and piped outputs differ`);
  console.log(`${n.toLocaleString('en')}: fused and piped outputs ${same ? 'identical' : 'DIFFER'}`);
}
console.log(problems.length ? `WRONG:\n  ${problems.join('\n  ')}` : `checked on every run: the window counts add up to the input's records; every run of a variant wrote the same bytes`);
const f1 = results.find((r) => r.n === Math.min(...SIZES) && r.name === 'fused');
const f2 = results.find((r) => r.n === Math.max(...SIZES) && r.name === 'fused');
let missed = false;
if (hasTime && SIZES.length > 1) {
  const ratio = f2.rss / f1.rss;
  missed = ratio > 1.5;
  console.log(`fused peak RSS ${f2.n.toLocaleString('en')} / ${f1.n.toLocaleString('en')}: ${ratio.toFixed(2)} (${mb(f2.rss)} / ${mb(f1.rss)}; target <= 1.5${missed ? `: MISSED${check ? '' : ', exit 0 without --check'}` : ''})`);
}
if (problems.length || (check && missed)) process.exit(1);
