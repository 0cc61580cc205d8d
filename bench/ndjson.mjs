#!/usr/bin/env node
// NDJSON throughput: kstream fused and piped against a hand-written Node loop and jq, on the same file, in one run.
//   node bench/ndjson.mjs [--records 1000000] [--runs 3] [--data clicks|wide] [--cli path]
// The variants run interleaved, --runs rounds of each; per variant the median time and its range, and the ratios of
// each round (kstream's time over the loop's and jq's in the same round) as a median and a range. Checks on every run that the variant wrote one line
// per input record with latency_ms > 50 (counted here with JSON.parse) and the same bytes as every other run and
// variant (exit 1 otherwise).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, clicksInput, DATA, fmtSpread, interleaved, node, opt, outDir, spread } from './common.mjs';

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

// every run: one line per kept record, and the same bytes as this variant's first run
const { times, digests, problems } = interleaved(variants, RUNS, { lines: expected, label: 30 });

/** Per round, a variant's time over a reference's; their median and range. */
const ratio = (a, b) => (times.has(b) ? spread(times.get(a).map((t, i) => t / times.get(b)[i])) : undefined);
const results = variants.map(([name]) => ({ name, seconds: spread(times.get(name)), digest: digests.get(name), x_loop: ratio(name, 'hand-written Node loop'), x_jq: ratio(name, 'jq -c'), x_fused: ratio(name, 'kstream fused') }));
console.log(`\nNDJSON filter + map over ${N.toLocaleString('en')} ${DATA} records (${(bytes / 1e6).toFixed(1)} MB), median (range) of ${RUNS} interleaved rounds, node ${process.version}`);
console.log(`${'variant'.padEnd(30)} ${'seconds'.padStart(20)} ${'records/s'.padStart(11)} ${'× loop time'.padStart(20)} ${'× jq time'.padStart(20)} ${'× fused'.padStart(20)}  output`);
const cell = (x) => (x ? fmtSpread(x) : '-').padStart(20);
for (const r of results) {
  console.log(`${r.name.padEnd(30)} ${fmtSpread(r.seconds, 3).padStart(20)} ${Math.round(N / r.seconds.median).toLocaleString('en').padStart(11)} ${cell(r.x_loop)} ${cell(r.x_jq)} ${cell(r.x_fused)}  sha256:${r.digest}`);
}
const same = new Set(results.map((r) => r.digest)).size === 1;
if (!same) problems.push('the variants wrote different outputs');
console.log(problems.length ? `\nWRONG:\n  ${problems.join('\n  ')}` : `\nall variants wrote identical output on every run: ${expected.toLocaleString('en')} records each`);
if (problems.length) process.exit(1);
