#!/usr/bin/env node
// Compression codecs on the consume and produce paths: what reading a compressed topic costs against an
// uncompressed one, and kstream produce -z against kcat -z.
//   node bench/codecs.mjs [--records 1000000] [--runs 3] [--codecs none,gzip,snappy,lz4,zstd] [--brokers host:port] [--json]
// The same generated records (--data clicks|wide, see common.mjs) go to one topic per codec and producer
// (kcat -z <codec> and kstream produce -z <codec>; one partition, so batches are as large as each producer makes
// them); each produce is timed --runs times on a fresh topic, the last one is kept. Then `kstream consume <t>
// --exit > /dev/null` is timed --runs times on every kept topic, the runs interleaved across topics so load from
// elsewhere on the machine spreads over all of them. Prints medians, ranges (min–max) and ratios: consume time (wall,
// and CPU of the process) against the uncompressed topic of the same producer, produce time against kcat's. Checks every topic holds and
// reads back --records records. Without --brokers or KSTREAM_BROKERS it starts (or reuses) the development broker.
import os from 'node:os';
import { broker, clicksInput, DATA, flag, fmtSpread, kcatVersions, ks, opt, q, requireKcat, say, spread, steps } from './common.mjs';

const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const CODECS = opt('--codecs', 'none,gzip,snappy,lz4,zstd').split(',');
if (!CODECS.includes('none')) CODECS.unshift('none'); // the baseline of the ratios

requireKcat();
const [kcatVersion, librdkafka] = kcatVersions();
const { brokers, stop } = await broker();
const { input, bytes } = clicksInput(N);
const env = { ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1' };
const { timed, admin, recordsIn } = steps(env);

const produce = {
  kcat: (t, z) => `kcat -P -b ${q(brokers)} -t ${q(t)} -z ${z} -l ${q(input)}`,
  kstream: (t, z) => `${ks} produce ${q(t)} -z ${z} --quiet < ${q(input)}`,
};
const consume = (t, sink) => `${ks} consume ${q(t)} --offset start --exit ${sink}`;

/**
 * Wall and CPU seconds (user + system, of the command's processes, from bash's `times`) of one consume to
 * /dev/null. CPU time is the steadier figure on a machine shared with other work, where wall time swings.
 */
function timedConsume(t) {
  const { s, stdout } = timed(`consume ${t}`, `${consume(t, '> /dev/null')}; times`);
  const secs = (x) => { const m = /(\d+)m([\d.]+)s/.exec(x); return Number(m[1]) * 60 + Number(m[2]); };
  const children = stdout.trim().split('\n').pop().split(/\s+/);
  return { s, cpu: secs(children[0]) + secs(children[1]) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs) => ({ median: +median(xs).toFixed(3), min: +Math.min(...xs).toFixed(3), max: +Math.max(...xs).toFixed(3), runs: xs.map((x) => +x.toFixed(3)) });
const fmt = (s) => `${s.median.toFixed(2)} s (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

const tag = Date.now().toString(36);
const problems = [];
const prodTimes = {}; // `${tool} ${codec}` → seconds[]
const kept = []; // { tool, codec, topic }
say(`broker ${brokers}, ${N.toLocaleString('en')} records (${(bytes / 1e6).toFixed(0)} MB), ${RUNS} runs; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  // produce: each run on a fresh topic; the last run's topic is kept for the consume runs
  for (let run = 0; run < RUNS; run++) {
    for (const codec of CODECS) {
      const order = run % 2 === 0 ? ['kstream', 'kcat'] : ['kcat', 'kstream'];
      for (const tool of order) {
        const topic = `bench-codecs-${tag}-${tool}-${codec}-${run}`;
        admin(`create ${q(topic)} --partitions 1 --quiet`);
        const { s } = timed(`${tool} produce -z ${codec}`, produce[tool](topic, codec));
        (prodTimes[`${tool} ${codec}`] ??= []).push(s);
        const stored = recordsIn(topic);
        if (stored !== N) problems.push(`${tool} produce -z ${codec} run ${run + 1}: topic holds ${stored} records, expected ${N}`);
        say(`  produce run ${run + 1} ${tool.padEnd(7)} -z ${codec.padEnd(6)} ${s.toFixed(2)} s`);
        if (run === RUNS - 1) kept.push({ tool, codec, topic });
        else admin(`delete ${q(topic)} --quiet`);
      }
    }
  }
  // consume: every kept topic once per run, interleaved
  const consTimes = new Map(kept.map((k) => [k.topic, { wall: [], cpu: [] }]));
  for (let run = 0; run < RUNS; run++) {
    for (const k of run % 2 === 0 ? kept : [...kept].reverse()) {
      const { s, cpu } = timedConsume(k.topic);
      consTimes.get(k.topic).wall.push(s);
      consTimes.get(k.topic).cpu.push(cpu);
      say(`  consume run ${run + 1} ${k.tool.padEnd(7)} -z ${k.codec.padEnd(6)} ${s.toFixed(2)} s (cpu ${cpu.toFixed(2)} s)`);
    }
  }
  for (const k of kept) {
    const read = Number(timed(`consume ${k.topic} (count)`, consume(k.topic, '| wc -l')).stdout.trim());
    if (read !== N) problems.push(`consume of ${k.tool} -z ${k.codec} read ${read} records, expected ${N}`);
    k.consume = stats(consTimes.get(k.topic).wall);
    k.cpu = stats(consTimes.get(k.topic).cpu);
    k.times = consTimes.get(k.topic);
  }
  for (const k of kept) admin(`delete ${q(k.topic)} --quiet`);
} finally {
  await stop();
}

const base = (tool) => kept.find((k) => k.tool === tool && k.codec === 'none');
/** Per run, a's figure over b's in the same run: median and range. */
const perRun = (a, b) => spread(a.map((x, i) => x / b[i]));
const consumeRows = kept.map((k) => ({
  producer: k.tool, codec: k.codec, ...k.consume, x_uncompressed: perRun(k.times.wall, base(k.tool).times.wall),
  records_per_s: Math.round(N / k.consume.median), cpu: k.cpu, cpu_x_uncompressed: perRun(k.times.cpu, base(k.tool).times.cpu),
}));
const produceRows = CODECS.map((codec) => {
  const kc = stats(prodTimes[`kcat ${codec}`]);
  const kst = stats(prodTimes[`kstream ${codec}`]);
  return { codec, kcat: kc, kstream: kst, x_kcat: perRun(prodTimes[`kstream ${codec}`], prodTimes[`kcat ${codec}`]) };
});
const result = {
  records: N, bytes, runs: RUNS, brokers, node: process.version, kcat: kcatVersion, librdkafka,
  load_average: os.loadavg().map((x) => +x.toFixed(2)), consume: consumeRows, produce: produceRows, counts_ok: problems.length === 0,
};
if (flag('--json')) console.log(JSON.stringify(result));
else {
  console.log(`\nkstream consume <topic> --exit > /dev/null, ${N.toLocaleString('en')} ${DATA} records (${(bytes / 1e6).toFixed(0)} MB): median (range) of ${RUNS}, and × the uncompressed topic per run`);
  console.log(`  ${'topic'.padEnd(18)} ${'wall'.padEnd(24)} ${'×'.padEnd(18)} ${'cpu (user+sys)'.padEnd(24)} ×`);
  for (const r of consumeRows) {
    console.log(`  ${`${r.codec} by ${r.producer}`.padEnd(18)} ${fmt(r).padEnd(24)} ${fmtSpread(r.x_uncompressed).padEnd(18)} ${fmt(r.cpu).padEnd(24)} ${fmtSpread(r.cpu_x_uncompressed)}`);
  }
  console.log(`\nproduce -z <codec>: median (range) of ${RUNS}, and kstream × kcat per run (librdkafka ${librdkafka})`);
  for (const r of produceRows) console.log(`  ${r.codec.padEnd(7)} kcat ${fmt(r.kcat).padEnd(24)} kstream ${fmt(r.kstream).padEnd(24)} ${fmtSpread(r.x_kcat)}`);
}
for (const p of problems) say(`problem: ${p}`);
process.exitCode = problems.length ? 1 : 0;
