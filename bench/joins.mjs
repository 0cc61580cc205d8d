#!/usr/bin/env node
// Stream–table join throughput and table bootstrap, against references in the same run.
//   node bench/joins.mjs [--records 1000000] [--rows 100000] [--runs 3] [--data clicks|wide] [--table-rows 1000000]
//                        [--no-kafka] [--cli path] [--brokers host:port]
// 1. Join: `kstream join file:<users> --on r.user --as profile < <events>` (each event gains its user's row) against
//    the same job without the join (`map '({...r, profile: null})'`: the member added, nothing looked up) and a
//    hand-written Node loop (readline, JSON.parse, Map lookup, JSON.stringify). Interleaved rounds; the median time and
//    range per variant and the ratios of each round. Checks on every run: one line per event, the join's bytes equal the
//    loop's, and every run of a variant wrote the same bytes (exit 1 otherwise).
// 2. Bootstrap (unless --no-kafka): a compacted topic of --table-rows rows (3 partitions) read as a table by
//    `kstream join global:<topic>` before its first record (the seconds it prints), and its peak RSS over that of the
//    same command with an empty table: memory per row. --runs runs, median and range. Targets (issue 14): join >= 1M
//    records/s and <= 1.5x the time without the join; bootstrap of 1M rows <= 3 s (printed, not enforced).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { broker, cli, clicksInput, DATA, fmtSpread, flag, interleaved, node, opt, outDir, q, say, spread, usersFile } from './common.mjs';

const N = Number(opt('--records', 1_000_000));
const ROWS = Number(opt('--rows', 100_000));
const TABLE_ROWS = Number(opt('--table-rows', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const TIME = '/usr/bin/time';
const hasTime = fs.existsSync(TIME);
fs.mkdirSync(outDir, { recursive: true });
const { input, bytes } = clicksInput(N);

const users = usersFile(ROWS);

const handLoop = path.join(outDir, 'hand-join.mjs');
fs.writeFileSync(handLoop, `// The straightforward Node program for the same join: the table into a Map, then readline, JSON.parse, lookup, JSON.stringify.
import fs from 'node:fs';
import readline from 'node:readline';
const table = new Map();
for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\\n')) if (line) { const r = JSON.parse(line); table.set(r.key, r.value); }
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let buf = [];
for await (const line of rl) {
  if (!line) continue;
  const r = JSON.parse(line);
  buf.push(JSON.stringify({ ...r, profile: table.get(r.user) ?? null }));
  if (buf.length >= 1024) { if (!process.stdout.write(buf.join('\\n') + '\\n')) await new Promise((ok) => process.stdout.once('drain', ok)); buf = []; }
}
if (buf.length) process.stdout.write(buf.join('\\n') + '\\n');
`);

const ks = `${q(node)} ${q(cli)}`;
const variants = [
  ['kstream join', `${ks} join ${q(`file:${users}`)} --on r.user --as profile --left --quiet < ${q(input)}`, true],
  ['kstream, no join', `${ks} map '({...r, profile: null})' --quiet < ${q(input)}`, false],
  ['hand-written Node loop', `${q(node)} ${q(handLoop)} ${q(users)} < ${q(input)}`, true],
];

const { times, digests, problems } = interleaved(variants, RUNS, { lines: N });
// The join keeps each record's own text and adds the row at its end; the loop re-serialises the record. On canonical
// JSON the bytes are equal; where the input writes numbers otherwise (the wide data's 235.390) they differ in form
// only — so the values are compared, record by record.
if (digests.get('kstream join') !== digests.get('hand-written Node loop')) {
  const [a, b] = [path.join(outDir, 'join-a.ndjson'), path.join(outDir, 'join-b.ndjson')];
  spawnSync('bash', ['-c', `${variants[0][1]} > ${q(a)}; ${variants[2][1]} > ${q(b)}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  const [ia, ib] = [linesOf(a), linesOf(b)];
  let differ = 0;
  for (let i = 1; !differ; i++) {
    const [x, y] = [ia.next(), ib.next()];
    if (x.done || y.done) {
      if (x.done !== y.done) differ = i;
      break;
    }
    if (x.value !== y.value && JSON.stringify(JSON.parse(x.value)) !== JSON.stringify(JSON.parse(y.value))) differ = i;
  }
  if (differ) problems.push(`the join and the hand-written loop wrote different records (line ${differ})`);
  else say('the join and the loop differ in bytes (number forms kept from the input) but not in values');
  fs.rmSync(a);
  fs.rmSync(b);
}

/** The lines of a file, read in chunks (an output of wide records is longer than a string may be). */
function* linesOf(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 22);
  const dec = new StringDecoder('utf8');
  let rest = '';
  try {
    for (;;) {
      const n = fs.readSync(fd, buf);
      if (n === 0) break;
      const parts = (rest + dec.write(buf.subarray(0, n))).split('\n');
      rest = parts.pop();
      yield* parts;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (rest) yield rest;
}

const ratio = (a, b) => spread(times.get(a).map((t, i) => t / times.get(b)[i]));
console.log(`\nStream–table join: ${N.toLocaleString('en')} ${DATA} events (${(bytes / 1e6).toFixed(1)} MB) × a ${ROWS.toLocaleString('en')}-row file table, median (range) of ${RUNS} interleaved rounds, node ${process.version}`);
console.log(`${'variant'.padEnd(24)} ${'seconds'.padStart(20)} ${'records/s'.padStart(11)} ${'× no join'.padStart(20)} ${'× loop'.padStart(20)}`);
for (const [name] of variants) {
  const s = spread(times.get(name));
  console.log(`${name.padEnd(24)} ${fmtSpread(s, 3).padStart(20)} ${Math.round(N / s.median).toLocaleString('en').padStart(11)} ${fmtSpread(ratio(name, 'kstream, no join')).padStart(20)} ${fmtSpread(ratio(name, 'hand-written Node loop')).padStart(20)}`);
}
const js = spread(times.get('kstream join'));
console.log(`targets: join >= 1M records/s: ${Math.round(N / js.median).toLocaleString('en')}/s; join <= 1.5x no join: ${ratio('kstream join', 'kstream, no join').median.toFixed(2)}x`);

if (!flag('--no-kafka')) {
  const b = await broker();
  try {
    const env = { ...process.env, KSTREAM_BROKERS: b.brokers };
    const sh = (cmd) => {
      const r = spawnSync('bash', ['-c', `set -o pipefail; ${cmd}`], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
      return r;
    };
    const topic = `bench-join-table-${TABLE_ROWS}`;
    // made once per broker: a compacted topic holding one row per key
    const has = spawnSync('bash', ['-c', `${ks} topics describe ${topic} --json`], { env, encoding: 'utf8' });
    if (has.status !== 0) {
      say(`loading ${TABLE_ROWS.toLocaleString('en')} rows into ${topic}`);
      sh(`${ks} topics create ${topic} --partitions 3 --config cleanup.policy=compact`);
      const rows = path.join(outDir, `users-${TABLE_ROWS}.ndjson`);
      usersFile(TABLE_ROWS);
      sh(`${ks} map r.value --quiet < ${q(rows)} | ${ks} produce ${topic} --key r.id --quiet`);
    }
    const empty = path.join(outDir, 'empty-table.ndjson');
    fs.writeFileSync(empty, '');
    const boot = [];
    const rss = [];
    const base = [];
    for (let i = 0; i < RUNS; i++) {
      const rf = path.join(outDir, 'join-rss.txt');
      const timed = (cmd) => (hasTime ? `${TIME} -f %M -o ${q(rf)} ${cmd}` : cmd);
      const r = sh(`${timed(`${ks} join global:${topic} --on r.user < /dev/null`)}`);
      const m = /loaded, ([\d,]+) rows \(([\d,]+) read\) in ([\d.]+) s/.exec(r.stderr);
      if (!m) throw new Error(`no bootstrap line in: ${r.stderr}`);
      if (Number(m[1].replace(/,/g, '')) !== TABLE_ROWS) problems.push(`bootstrap run ${i + 1}: ${m[1]} rows, expected ${TABLE_ROWS}`);
      boot.push(Number(m[3]));
      if (hasTime) rss.push(Number(fs.readFileSync(rf, 'utf8').trim().split('\n').pop()));
      sh(`${timed(`${ks} join file:${q(empty)} --on r.user < /dev/null`)}`);
      if (hasTime) base.push(Number(fs.readFileSync(rf, 'utf8').trim().split('\n').pop()));
      say(`  bootstrap round ${i + 1}: ${m[3]} s`);
    }
    const bs = spread(boot);
    console.log(`\nBootstrap of a ${TABLE_ROWS.toLocaleString('en')}-row compacted topic (3 partitions) by \`join global:\`: ${fmtSpread(bs)} s, ${Math.round(TABLE_ROWS / bs.median).toLocaleString('en')} rows/s (target <= 3 s)`);
    if (hasTime) {
      const per = rss.map((k, i) => ((k - base[i]) * 1024) / TABLE_ROWS);
      console.log(`peak RSS ${fmtSpread(spread(rss.map((k) => k / 1024)), 0)} MB against ${fmtSpread(spread(base.map((k) => k / 1024)), 0)} MB with an empty table: ${fmtSpread(spread(per), 0)} bytes per row`);
    }
  } finally {
    await b.stop();
  }
}
console.log(problems.length ? `\nWRONG:\n  ${problems.join('\n  ')}` : `\nall checks passed: the join's records equal the hand-written loop's (values; bytes too where the input is canonical JSON)`);
if (problems.length) process.exit(1);
