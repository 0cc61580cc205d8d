#!/usr/bin/env node
// Raw Kafka client throughput on one broker, in one run: kcat (librdkafka), the kstream CLI (its own record-batch
// codec over kafkajs connections) and @platformatic/kafka 1.x (a minimal Producer / Consumer script).
//   node bench/kafka-clients.mjs [--records 1000000] [--runs 3] [--partitions 3] [--brokers host:port] [--json]
//                                [--plat-batch 10000] [--plat-inflight 5] [--check]
// Each run, each tool: a fresh topic; produce the generated clicks file into it, then consume it back until the end
// offsets (output into `wc -l`, like `kcat -e`; platformatic's script counts itself). Every step is timed as the wall
// time of a child process, startup included, for all three tools alike. Prints records/s per tool and step (best of
// --runs) and the time ratios against kcat; checks, on every run, that the topic received exactly --records records
// and that the consumer read them all back (exit 1 otherwise). Target: each tool within 2× kcat's time; a miss exits
// 1 under --check.
// Settings, the same for every tool where they apply: acks all (-1), no compression, keyless records.
//   kcat: its defaults (librdkafka acks=-1, batch.num.messages 10000, batch.size 1 MB, linger.ms 5).
//   kstream: its defaults (--acks all, --batch-size 50000, --batch-bytes 1000000, --linger 0ms).
//   @platformatic/kafka: Producer.send({ messages, acks: -1 }) with --plat-batch lines per send (round-robin over the
//     partitions) and at most --plat-inflight sends pending; Consumer.consume({ mode: 'earliest', autocommit: false })
//     with the library's fetch defaults, read until every partition's end offset (listed before starting).
// The library is loaded by dynamic import, from this repository's node_modules or from KSTREAM_PLATFORMATIC_PATH (an
// install prefix holding node_modules/@platformatic/kafka, or the package directory itself). Without it that tool is
// skipped with a note on how to install it: npm i --no-save @platformatic/kafka@1
// Without --brokers or KSTREAM_BROKERS it starts (or reuses) the development broker (scripts/kafka.mjs up) and stops it
// at the end if it started it. Results: bench/out/kafka-clients.json.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { args, broker, check, cli, clicksInput, cliTools, flag, kcatVersions, node, opt, outDir, q, requireKcat, root, say, steps } from './common.mjs';

const self = fileURLToPath(import.meta.url);
const PLAT = '@platformatic/kafka';

/** Finds @platformatic/kafka: KSTREAM_PLATFORMATIC_PATH first, else the normal resolution from this repository. */
function resolvePlatformatic() {
  const where = process.env.KSTREAM_PLATFORMATIC_PATH;
  const bases = where ? [path.resolve(where)] : [];
  bases.push(root);
  for (const base of bases) {
    try {
      const own = path.join(base, 'package.json');
      if (fs.existsSync(own) && JSON.parse(fs.readFileSync(own, 'utf8')).name === PLAT) {
        const pkg = JSON.parse(fs.readFileSync(own, 'utf8'));
        return { entry: path.join(base, typeof pkg.exports === 'string' ? pkg.exports : pkg.main ?? 'index.js'), dir: base, version: pkg.version };
      }
      const entry = createRequire(path.join(base, 'noop.js')).resolve(PLAT);
      let dir = path.dirname(entry);
      while (dir !== path.dirname(dir)) {
        const p = path.join(dir, 'package.json');
        if (fs.existsSync(p)) {
          const pkg = JSON.parse(fs.readFileSync(p, 'utf8'));
          if (pkg.name === PLAT) return { entry, dir, version: pkg.version };
        }
        dir = path.dirname(dir);
      }
    } catch {
      /* not there */
    }
  }
  return undefined;
}

async function loadPlatformatic() {
  const found = resolvePlatformatic();
  if (!found) return undefined;
  const lib = await import(pathToFileURL(found.entry).href);
  return { lib, ...found };
}

// ---------------------------------------------------------------------------------------------------------------
// Worker mode: `node bench/kafka-clients.mjs --worker produce|consume <topic> [file]`, run (and timed) by the main mode.
// Prints one JSON line on stdout: { records, bytes }.

if (args[0] === '--worker') {
  const [, role, topic, file] = args;
  const brokers = process.env.KSTREAM_BROKERS.split(',');
  const batchSize = Number(process.env.BENCH_PLAT_BATCH ?? 10_000);
  const inflight = Number(process.env.BENCH_PLAT_INFLIGHT ?? 5);
  const found = await loadPlatformatic();
  if (!found) throw new Error(`${PLAT} not found`);
  const { Producer, Consumer, ProduceAcks } = found.lib;
  const watchdog = setTimeout(() => { say(`${role} ${topic}: still running after 600 s`); process.exit(3); }, 600_000);
  watchdog.unref();

  if (role === 'produce') {
    const producer = new Producer({ clientId: 'kstream-bench', bootstrapBrokers: brokers, acks: ProduceAcks.ALL, compression: 'none' });
    const pending = new Set();
    let failure;
    let records = 0;
    let bytes = 0;
    const send = async (messages) => {
      // acks must be given per send: the library defaults a send's acks to 1 (leader) unless idempotent
      const p = producer.send({ messages, acks: ProduceAcks.ALL, compression: 'none' }).then(
        () => { records += messages.length; },
        (e) => { failure ??= e; },
      );
      pending.add(p);
      p.then(() => pending.delete(p));
      if (pending.size >= inflight) await Promise.race(pending);
      if (failure) throw failure;
    };
    let batch = [];
    let rest;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        if (nl > start) {
          const value = buf.subarray(start, nl);
          bytes += value.length;
          batch.push({ topic, value });
          if (batch.length >= batchSize) { await send(batch); batch = []; }
        }
        start = nl + 1;
      }
      rest = start < buf.length ? buf.subarray(start) : undefined;
    }
    if (rest?.length) { bytes += rest.length; batch.push({ topic, value: rest }); }
    if (batch.length) await send(batch);
    await Promise.all(pending);
    if (failure) throw failure;
    await producer.close();
    console.log(JSON.stringify({ records, bytes }));
  } else if (role === 'consume') {
    const consumer = new Consumer({ clientId: 'kstream-bench', groupId: `kstream-bench-${topic}-${process.pid}`, bootstrapBrokers: brokers, autocommit: false });
    // end offsets before starting, like `kcat -e`: stop once every partition reached the end it had then
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic);
    const last = ends.map((e) => e - 1n); // offset of each partition's last record (-1n: empty)
    let left = last.filter((o) => o >= 0n).length;
    let records = 0;
    let bytes = 0;
    if (left > 0) {
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      const done = new Set();
      await new Promise((resolve, reject) => {
        stream.on('error', reject);
        stream.on('end', () => reject(new Error(`stream ended after ${records} records`)));
        stream.on('data', (m) => {
          records++;
          bytes += m.value?.length ?? 0;
          if (m.offset >= last[m.partition] && !done.has(m.partition)) {
            done.add(m.partition);
            if (--left === 0) resolve();
          }
        });
      });
      stream.removeAllListeners('end');
      stream.removeAllListeners('data');
      stream.on('error', () => {});
      await stream.close();
    }
    await consumer.close(true);
    console.log(JSON.stringify({ records, bytes }));
  } else throw new Error(`unknown worker role ${role}`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------------------
// Main mode

const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const PARTITIONS = Number(opt('--partitions', 3));
const PLAT_BATCH = Number(opt('--plat-batch', 10_000));
const PLAT_INFLIGHT = Number(opt('--plat-inflight', 5));

requireKcat();
if (!fs.existsSync(cli)) {
  say('dist/src/cli.js is missing — build kstream first (npm run build)');
  process.exit(2);
}
const kcatVersion = kcatVersions();

let plat;
try {
  plat = await loadPlatformatic();
} catch (e) {
  say(`${PLAT} is installed but failed to load (${e.message}); skipping it`);
}
if (!plat && !resolvePlatformatic()) say(`${PLAT} is not installed — npm i --no-save ${PLAT}@1 (or point KSTREAM_PLATFORMATIC_PATH at its install prefix); skipping it`);
if (plat && !plat.version.startsWith('1.')) say(`note: ${PLAT} ${plat.version} is not 1.x`);

const { brokers, stop } = await broker();
const { input, bytes } = clicksInput(N);
const env = {
  ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1',
  BENCH_PLAT_BATCH: String(PLAT_BATCH), BENCH_PLAT_INFLIGHT: String(PLAT_INFLIGHT),
  ...(plat ? { KSTREAM_PLATFORMATIC_PATH: plat.dir } : {}),
};

const { onFreshTopic } = steps(env);
const worker = (role, t) => `${q(node)} ${q(self)} --worker ${role} ${q(t)} ${role === 'produce' ? q(input) : ''}`;

const tools = cliTools({ brokers, input, n: N }); // kcat first: the ratios are against it
if (plat) {
  tools[PLAT] = {
    produce: (t) => worker('produce', t),
    consume: (t) => worker('consume', t), // counts what it reads itself, every run
    selfCounting: true,
  };
}
const names = Object.keys(tools);

const best = Object.fromEntries(names.map((t) => [t, { produce: Infinity, consume: Infinity }]));
const times = Object.fromEntries(names.map((t) => [t, { produce: [], consume: [] }]));
const problems = [];
const tag = Date.now().toString(36);
say(`broker ${brokers}, ${N.toLocaleString('en')} records, ${PARTITIONS} partitions, ${RUNS} runs, tools: ${names.join(', ')}${plat ? ` (${PLAT} ${plat.version})` : ''}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  for (let run = 0; run < RUNS; run++) {
    // rotate which tool goes first, so none always gets the warmer broker
    const order = names.map((_, i) => names[(i + run) % names.length]);
    for (const tool of order) {
      const one = { tool, run, cmds: tools[tool], topic: `bench-${tool.replace(/\W/g, '')}-${tag}-${run}`, partitions: PARTITIONS, n: N, problems };
      onFreshTopic(one, (p, c) => {
        if (tools[tool].selfCounting) {
          const sent = JSON.parse(p.stdout.trim().split('\n').pop()).records;
          if (sent !== N) problems.push(`${tool} produce run ${run + 1}: sent ${sent} records, expected ${N}`);
        }
        best[tool].produce = Math.min(best[tool].produce, p.s);
        best[tool].consume = Math.min(best[tool].consume, c.s);
        times[tool].produce.push(+p.s.toFixed(3));
        times[tool].consume.push(+c.s.toFixed(3));
        say(`  run ${run + 1} ${tool.padEnd(19)} produce ${p.s.toFixed(2)} s, consume ${c.s.toFixed(2)} s`);
        if (tools[tool].selfCounting) {
          const n = JSON.parse(c.stdout.trim().split('\n').pop()).records;
          if (n !== N) problems.push(`${tool} consume run ${run + 1} read ${n} records, expected ${N}`);
        }
      });
    }
  }
} finally {
  await stop();
}

const rate = (s) => Math.round(N / s);
const rows = [];
for (const step of ['produce', 'consume']) {
  for (const tool of names) {
    const s = best[tool][step];
    rows.push({ step, tool, seconds: +s.toFixed(3), records_per_s: rate(s), mb_per_s: +(bytes / s / 1e6).toFixed(1), x_kcat_time: +(s / best.kcat[step]).toFixed(2), runs_s: times[tool][step] });
  }
}
const ratios = Object.fromEntries(names.filter((t) => t !== 'kcat').map((t) => [t, {
  produce: +(best[t].produce / best.kcat.produce).toFixed(2),
  consume: +(best[t].consume / best.kcat.consume).toFixed(2),
}]));
for (const r of Object.values(ratios)) r.within_2x = r.produce <= 2 && r.consume <= 2;
const settings = {
  acks: 'all (-1) for every tool (kcat: librdkafka default; kstream: --acks all default; platformatic: acks -1 on every send)',
  compression: 'none',
  kcat: 'defaults: batch.num.messages 10000, batch.size 1000000, linger.ms 5',
  kstream: 'defaults: --batch-size 50000, --batch-bytes 1000000, --linger 0ms; consume --offset start --exit',
  ...(plat ? { [PLAT]: `send() of ${PLAT_BATCH} lines (Buffer values, no key, round-robin partitions), at most ${PLAT_INFLIGHT} sends pending; consume() mode earliest, autocommit off, library fetch defaults (maxBytes 10 MB, maxWaitTime 5 s)` } : {}),
};
const result = {
  records: N, bytes, partitions: PARTITIONS, runs: RUNS, brokers, node: process.version,
  kcat: kcatVersion[0], librdkafka: kcatVersion[1], platformatic_kafka: plat?.version ?? null,
  load_average: os.loadavg().map((x) => +x.toFixed(2)), settings,
  results: rows, ratios, counts_ok: problems.length === 0, problems,
};
fs.writeFileSync(path.join(outDir, 'kafka-clients.json'), JSON.stringify(result, null, 2) + '\n');
if (flag('--json')) console.log(JSON.stringify(result));
else {
  const w = Math.max(...names.map((t) => t.length));
  console.log(`\nKafka client produce / consume of ${N.toLocaleString('en')} clicks records (${(bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes / N)} B each), ${PARTITIONS} partitions, best of ${RUNS}`);
  console.log(`broker ${brokers}; node ${process.version}; kcat ${result.kcat} (librdkafka ${result.librdkafka})${plat ? `; ${PLAT} ${plat.version}` : ''}; acks all, no compression, every tool`);
  console.log(`${'step'.padEnd(8)} ${'tool'.padEnd(w)} ${'seconds'.padStart(8)} ${'records/s'.padStart(11)} ${'MB/s'.padStart(7)} ${'× kcat time'.padStart(12)}`);
  for (const r of rows) console.log(`${r.step.padEnd(8)} ${r.tool.padEnd(w)} ${r.seconds.toFixed(3).padStart(8)} ${r.records_per_s.toLocaleString('en').padStart(11)} ${r.mb_per_s.toFixed(1).padStart(7)} ${r.x_kcat_time.toFixed(2).padStart(12)}`);
  console.log('');
  for (const [t, r] of Object.entries(ratios)) console.log(`${t}/kcat time: produce ${r.produce}×, consume ${r.consume}× — ${r.within_2x ? 'within' : 'NOT within'} the 2× target`);
  console.log(problems.length ? `COUNTS WRONG:\n  ${problems.join('\n  ')}` : `counts verified on every run: every topic held ${N.toLocaleString('en')} records, every consumer read ${N.toLocaleString('en')}`);
  console.log(`→ ${path.relative(root, path.join(outDir, 'kafka-clients.json'))}`);
}
const missed = Object.entries(ratios).filter(([, r]) => !r.within_2x).map(([t]) => t);
if (missed.length) say(`target missed (2× kcat's time): ${missed.join(', ')}${check ? '' : ' — exit 0 without --check'}`);
if (problems.length || (check && missed.length)) process.exit(1);
