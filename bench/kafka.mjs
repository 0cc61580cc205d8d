#!/usr/bin/env node
// Kafka produce and consume throughput: kstream against kcat (librdkafka) on the same broker, in one run.
//   node bench/kafka.mjs [--records 1000000] [--runs 3] [--partitions 3] [--data clicks|wide] [--cli path] [--brokers host:port] [--json]
// Each run, each tool: a fresh topic; produce the generated file into it, then consume it back into `wc -l`
// (until the end offsets, like `kcat -e`). Prints per tool and step the median time and its range, and the ratio
// kstream/kcat of each run (the two tools back to back, the first alternating) as a median and a range; checks, on every run, that the topic received exactly --records records and that the tool read them
// all back (exit 1 otherwise).
// Without --brokers or KSTREAM_BROKERS it starts (or reuses) the development broker: node scripts/kafka.mjs up.
import os from 'node:os';
import { broker, clicksInput, cliTools, DATA, flag, fmtSpread, kcatVersions, opt, requireKcat, say, spread, steps } from './common.mjs';

const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const PARTITIONS = Number(opt('--partitions', 3));

requireKcat();
const kcatVersion = kcatVersions();

const { brokers, stop } = await broker();
const { input, bytes } = clicksInput(N);
const env = { ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1' };
const { onFreshTopic } = steps(env);
const tools = cliTools({ brokers, input, n: N });

const times = { kstream: { produce: [], consume: [] }, kcat: { produce: [], consume: [] } };
const problems = [];
const tag = Date.now().toString(36);
say(`broker ${brokers}, ${N.toLocaleString('en')} records, ${PARTITIONS} partitions, ${RUNS} runs; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  for (let run = 0; run < RUNS; run++) {
    // alternate which tool goes first, so neither always gets the warmer broker
    const order = run % 2 === 0 ? ['kstream', 'kcat'] : ['kcat', 'kstream'];
    for (const tool of order) {
      const one = { tool, run, cmds: tools[tool], topic: `bench-${tool}-${tag}-${run}`, partitions: PARTITIONS, n: N, problems };
      onFreshTopic(one, (p, c) => {
        times[tool].produce.push(p.s);
        times[tool].consume.push(c.s);
        say(`  run ${run + 1} ${tool.padEnd(7)} produce ${p.s.toFixed(2)} s, consume ${c.s.toFixed(2)} s`);
      });
    }
  }
} finally {
  await stop();
}

const ratio = (step) => spread(times.kstream[step].map((t, i) => t / times.kcat[step][i]));
const rows = [];
for (const step of ['produce', 'consume']) {
  for (const tool of ['kstream', 'kcat']) {
    const t = spread(times[tool][step]);
    rows.push({ step, tool, seconds: t, records_per_s: Math.round(N / t.median), mb_per_s: +(bytes / t.median / 1e6).toFixed(1) });
  }
}
const result = {
  data: DATA, records: N, bytes, partitions: PARTITIONS, runs: RUNS, brokers, node: process.version,
  kcat: kcatVersion[0], librdkafka: kcatVersion[1], load_average: os.loadavg().map((x) => +x.toFixed(2)),
  results: rows, ratio_produce: ratio('produce'), ratio_consume: ratio('consume'), counts_ok: problems.length === 0,
};
if (flag('--json')) console.log(JSON.stringify(result));
else {
  console.log(`\nKafka produce / consume of ${N.toLocaleString('en')} ${DATA} records (${(bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes / N)} B each), ${PARTITIONS} partitions, median (range) of ${RUNS}`);
  console.log(`broker ${brokers}; node ${process.version}; kcat ${result.kcat} (librdkafka ${result.librdkafka}); acks all, no compression, both tools`);
  console.log(`${'step'.padEnd(8)} ${'tool'.padEnd(8)} ${'seconds'.padStart(20)} ${'records/s'.padStart(11)} ${'MB/s'.padStart(7)}`);
  for (const r of rows) console.log(`${r.step.padEnd(8)} ${r.tool.padEnd(8)} ${fmtSpread(r.seconds, 3).padStart(20)} ${r.records_per_s.toLocaleString('en').padStart(11)} ${r.mb_per_s.toFixed(1).padStart(7)}`);
  console.log(`\nkstream/kcat time, per run: produce ${fmtSpread(result.ratio_produce)}×, consume ${fmtSpread(result.ratio_consume)}×`);
  console.log(problems.length ? `COUNTS WRONG:\n  ${problems.join('\n  ')}` : `counts verified on every run: every topic held ${N.toLocaleString('en')} records, both consumers read ${N.toLocaleString('en')}`);
}
if (problems.length) process.exit(1);
