#!/usr/bin/env node
// NDJSON throughput: kstream fused and piped against a hand-written Node loop and jq, on the same file, in one run.
//   node bench/ndjson.mjs [--records 1000000] [--runs 3]
// Prints records/s per variant (best of --runs) and time ratios. Checks on every run that the variant wrote one line
// per input record with latency_ms > 50 (counted here with JSON.parse) and the same bytes as every other run and
// variant (exit 1 otherwise).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, clicksInput, countLines, node, opt, outDir } from './common.mjs';

const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
fs.mkdirSync(outDir, { recursive: true });
const { input, bytes } = clicksInput(N);
// the records the filter keeps, counted independently of every variant
let expected = 0;
for (const line of fs.readFileSync(input, 'utf8').split('\n')) if (line && JSON.parse(line).latency_ms > 50) expected++;

const FILTER = 'r.latency_ms > 50';
const MAP = '({user: r.user, ms: r.latency_ms * 1000})';
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const handLoop = path.join(outDir, 'hand-loop.mjs');
fs.writeFileSync(handLoop, `// The straightforward Node program for the same job: readline, JSON.parse, filter, map, JSON.stringify.
import readline from 'node:readline';
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let buf = [];
for await (const line of rl) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.latency_ms > 50) {
    buf.push(JSON.stringify({ user: r.user, ms: r.latency_ms * 1000 }));
    if (buf.length >= 1024) { if (!process.stdout.write(buf.join('\\n') + '\\n')) await new Promise((ok) => process.stdout.once('drain', ok)); buf = []; }
  }
}
if (buf.length) process.stdout.write(buf.join('\\n') + '\\n');
`);

const hasJq = spawnSync('jq', ['--version']).status === 0;
const variants = [
  ['kstream fused', `"${node}" "${cli}" filter ${q(FILTER)} + map ${q(MAP)} < "${input}"`],
  ['kstream fused, 1 thread', `KSTREAM_WORKERS=0 "${node}" "${cli}" filter ${q(FILTER)} + map ${q(MAP)} < "${input}"`],
  ['kstream piped (3 processes)', `cat "${input}" | "${node}" "${cli}" filter ${q(FILTER)} | "${node}" "${cli}" map ${q(MAP)}`],
  ['hand-written Node loop', `"${node}" "${handLoop}" < "${input}"`],
  ...(hasJq ? [['jq -c', `jq -c 'select(.latency_ms > 50) | {user, ms: (.latency_ms*1000)}' < "${input}"`]] : []),
];

const results = [];
const problems = [];
for (const [name, cmd] of variants) {
  let best = Infinity;
  let digest = '';
  for (let i = 0; i < RUNS; i++) {
    const out = path.join(outDir, 'out.ndjson');
    const t0 = process.hrtime.bigint();
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${cmd} > "${out}"`], { stdio: ['ignore', 'inherit', 'inherit'] });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${name} failed (exit ${r.status})`);
    best = Math.min(best, s);
    // every run: one line per kept record, and the same bytes as this variant's first run
    const lines = countLines(out);
    if (lines !== expected) problems.push(`${name} run ${i + 1}: ${lines} lines, expected ${expected}`);
    const d = createHash('sha256').update(fs.readFileSync(out)).digest('hex').slice(0, 12);
    if (i > 0 && d !== digest) problems.push(`${name} run ${i + 1} wrote other bytes than run 1`);
    digest = d;
    fs.rmSync(out);
  }
  results.push({ name, seconds: best, digest });
  process.stderr.write(`  ${name.padEnd(30)} ${best.toFixed(3)} s\n`);
}

const ref = (n) => results.find((r) => r.name === n);
const loop = ref('hand-written Node loop');
const jq = ref('jq -c');
const fused = ref('kstream fused');
console.log(`\nNDJSON filter + map over ${N.toLocaleString('en')} clicks records (${(bytes / 1e6).toFixed(1)} MB), best of ${RUNS}, node ${process.version}`);
console.log(`${'variant'.padEnd(30)} ${'seconds'.padStart(8)} ${'records/s'.padStart(12)} ${'× loop time'.padStart(12)} ${'× jq time'.padStart(10)} ${'× fused'.padStart(8)}  output`);
for (const r of results) {
  console.log(`${r.name.padEnd(30)} ${r.seconds.toFixed(3).padStart(8)} ${Math.round(N / r.seconds).toLocaleString('en').padStart(12)} ${(r.seconds / loop.seconds).toFixed(2).padStart(12)} ${(jq ? (r.seconds / jq.seconds).toFixed(2) : '-').padStart(10)} ${(r.seconds / fused.seconds).toFixed(2).padStart(8)}  sha256:${r.digest}`);
}
const same = new Set(results.map((r) => r.digest)).size === 1;
if (!same) problems.push('the variants wrote different outputs');
console.log(problems.length ? `\nWRONG:\n  ${problems.join('\n  ')}` : `\nall variants wrote identical output on every run: ${expected.toLocaleString('en')} records each`);
if (problems.length) process.exit(1);
