#!/usr/bin/env node
// Windowed aggregation throughput and memory: generated `clicks` records through
//   window tumbling 1m --time r.ts + aggregate count 'avg(r.latency_ms)' 'p99(r.latency_ms)' --by r.page
// fused (one process) and piped (`window … | aggregate …`, two processes), for 1M and 10M records.
//   node bench/windows.mjs [--sizes 1000000,10000000] [--runs 3]
// Prints records/s (best of --runs, and the spread), peak RSS per run (piped: the larger of the two processes),
// checks that fused and piped wrote the same bytes, and the 10M/1M peak-RSS ratio of the fused run (state is
// bounded by open windows × keys, so it should stay near 1; target <= 1.5).
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const SIZES = String(opt('--sizes', '1000000,10000000')).split(',').map(Number);
const RUNS = Number(opt('--runs', 3));
const cli = path.join(root, 'dist/src/cli.js');
const node = process.execPath;
const outDir = path.join(root, 'bench/out');
fs.mkdirSync(outDir, { recursive: true });
const TIME = '/usr/bin/time';
const hasTime = fs.existsSync(TIME);

const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const WINDOW = ['window', 'tumbling', '1m', '--time', 'r.ts'];
const AGGREGATE = ['aggregate', 'count', 'avg(r.latency_ms)', 'p99(r.latency_ms)', '--by', 'r.page'];
const sh = (argv) => argv.map(q).join(' ');
// Each kstream process under /usr/bin/time, its peak RSS (KB) written to its own file.
const timed = (argv, rssFile) => (hasTime ? `${TIME} -f %M -o "${rssFile}" ` : '') + `"${node}" "${cli}" ${sh(argv)}`;

function input(n) {
  const file = path.join(outDir, `clicks-s3-${n}.ndjson`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`generating ${n.toLocaleString('en')} clicks records → ${path.relative(root, file)}\n`);
    const tmp = `${file}.part`;
    execFileSync('bash', ['-c', `"${node}" "${cli}" gen --preset clicks --count ${n} --seed 3 > "${tmp}"`], { stdio: 'inherit' });
    fs.renameSync(tmp, file);
  }
  return file;
}

const variants = [
  { name: 'fused', stages: [[...WINDOW, '+', ...AGGREGATE]] },
  { name: 'piped (2 processes)', stages: [WINDOW, AGGREGATE] },
  // Reference: decoding the same three fields and nothing else (one thread), the floor for the fused run.
  { name: 'decode only (reference)', stages: [['filter', 'r.ts < 0 && r.latency_ms >= 0 && r.page !== 1']], env: 'KSTREAM_WORKERS=0 ', reference: true },
];

const results = [];
for (const n of SIZES) {
  const file = input(n);
  const bytes = fs.statSync(file).size;
  for (const v of variants) {
    const times = [];
    const rss = [];
    let digest = '';
    for (let r = 0; r < RUNS; r++) {
      const out = path.join(outDir, 'windows-out.ndjson');
      const rssFiles = v.stages.map((_, i) => path.join(outDir, `windows-rss-${i}.txt`));
      const cmd = `set -o pipefail; ${v.env ?? ''}` + v.stages.map((st, i) => timed(st, rssFiles[i]) + (i === 0 ? ` < "${file}"` : '')).join(' | ') + ` > "${out}"`;
      const t0 = process.hrtime.bigint();
      const res = spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (res.status !== 0) throw new Error(`${v.name} (${n}) failed (exit ${res.status})`);
      times.push(s);
      if (hasTime) rss.push(Math.max(...rssFiles.map((f) => Number(fs.readFileSync(f, 'utf8').trim().split('\n').pop()))));
      digest = createHash('sha256').update(fs.readFileSync(out)).digest('hex').slice(0, 12);
      fs.rmSync(out);
      for (const f of rssFiles) fs.rmSync(f, { force: true });
    }
    const best = Math.min(...times);
    results.push({ n, bytes, name: v.name, reference: !!v.reference, best, worst: Math.max(...times), rss: rss.length ? Math.max(...rss) : undefined, digest });
    process.stderr.write(`  ${String(n).padStart(9)} ${v.name.padEnd(24)} best ${best.toFixed(2)} s  (runs: ${times.map((t) => t.toFixed(2)).join(' ')})\n`);
  }
}

const mb = (kb) => (kb === undefined ? '-' : `${Math.round(kb / 1024)} MB`);
console.log(`\nwindow tumbling 1m + aggregate count avg p99 --by r.page over generated clicks (seed 3), best of ${RUNS}, node ${process.version}`);
console.log(`${'records'.padStart(11)} ${'variant'.padEnd(24)} ${'seconds'.padStart(8)} ${'records/s'.padStart(11)} ${'spread'.padStart(12)} ${'peak RSS'.padStart(9)}  output`);
for (const r of results) {
  const spread = `${r.best.toFixed(2)}–${r.worst.toFixed(2)}`;
  console.log(`${r.n.toLocaleString('en').padStart(11)} ${r.name.padEnd(24)} ${r.best.toFixed(3).padStart(8)} ${Math.round(r.n / r.best).toLocaleString('en').padStart(11)} ${spread.padStart(12)} ${mb(r.rss).padStart(9)}  ${r.reference ? '' : `sha256:${r.digest}`}`);
}

let ok = true;
for (const n of SIZES) {
  const [f, p] = ['fused', 'piped (2 processes)'].map((name) => results.find((r) => r.n === n && r.name === name));
  const same = f.digest === p.digest;
  ok &&= same;
  console.log(`${n.toLocaleString('en')}: fused and piped outputs ${same ? 'identical' : 'DIFFER'}`);
}
const f1 = results.find((r) => r.n === Math.min(...SIZES) && r.name === 'fused');
const f2 = results.find((r) => r.n === Math.max(...SIZES) && r.name === 'fused');
if (hasTime && SIZES.length > 1) {
  const ratio = f2.rss / f1.rss;
  console.log(`fused peak RSS ${f2.n.toLocaleString('en')} / ${f1.n.toLocaleString('en')}: ${ratio.toFixed(2)} (${mb(f2.rss)} / ${mb(f1.rss)}; target <= 1.5)`);
  ok &&= ratio <= 1.5;
}
if (!ok) process.exit(1);
