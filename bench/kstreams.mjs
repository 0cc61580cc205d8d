#!/usr/bin/env node
// Kafka Streams side by side: the same job, topic to topic, by a Kafka Streams application (bench/kstreams/, Java)
// and by kstream's fused job, on the same broker and input, in one run.
//   node bench/kstreams.mjs [--job windowed|join] [--records 1000000] [--runs 3] [--data clicks|wide] [--exactly-once]
//                           [--rows 100000] [--ks-values text|tree] [--kafka-streams 3.9.1] [--cli path] [--brokers host:port]
// --job windowed (the default): input records keyed by user, regrouped by page, 1-minute tumbling windows on event time r.ts with 20
// minutes of grace, count and avg(latency_ms) per window and page, written to an output topic:
//   Kafka Streams  stream(in).groupBy(page).windowedBy(TimeWindows.ofSizeAndGrace(1m, 20m)).aggregate(…).toStream().to(out)
//   kstream        consume <in> --group <g> --exit + window tumbling 1m --time r.ts --grace 20m
//                    + aggregate count 'avg(r.latency_ms)' --by r.page + produce <out>
// Both write every record to a repartition topic and read it back (Kafka Streams' groupBy; kstream's
// <group>-aggregate-repartition, since the input is keyed by user and the state by page), so both jobs are safe to
// scale out (kstream's --no-repartition, one process holding every key, was its shape before and is not measured).
// --job join: a stream–table left join against a global table (issue 14: kstream >= 2x Kafka Streams' throughput).
// A table topic (3 partitions, compacted) of --rows rows keyed u0…u<rows-1>, values {"id","tier","since","score"}
// (bench/common.mjs userRow, loaded with `kstream produce --key r.id`), joined on each input record's user:
//   Kafka Streams  stream(in).leftJoin(globalTable(table), (k, v) -> v.user, (v, row) -> {...v, profile: row}).to(out)
//                  (StreamTableJoin.java; --ks-values text (default): values stay text, user read by Jackson's
//                  streaming parser, the row's text spliced in; tree: JsonNode values on both sides)
//   kstream        consume <in> --group <g> --exit + join global:<table> --on r.user --as profile --left + produce <out>
// Both read the whole table before the first input record (inside the timed run). Checks every round: each output
// holds --records records, one per input record (ts + user); per record, key, timestamp and value (parsed, member
// order ignored) are equal on both sides, and the profile is the user's row (null past --rows).
// Kafka Streams' own clock is printed beside its wall time, and for the join its time from the first record joined to
// the last (JVM start, group join and the table's restore behind it): the rate it keeps once running.
//
// Once: builds the Java app with Maven (mvn package in bench/kstreams, jars from Maven Central; reused while pom.xml,
// the Java sources and the version are unchanged), creates an input topic of 3 partitions and loads --records
// generated records (bench/common.mjs's --data) into it with `kstream produce --key r.user`. Then, per round, each
// tool (the first alternating) on a fresh output topic and a fresh application id / group: its wall time from start
// to exit (startup, group join, processing, the last flush and commit included), peak RSS and CPU (/usr/bin/time).
// Kafka Streams runs until its aggregator (joiner) has taken in every input record, then closes (which flushes its record
// cache to the output and commits); kstream's consume --exit stops at the end offsets seen at start. After each run
// the group's committed lag on the input must be 0.
// Windowed job checks every round: for each (window start, page), the last result each tool emitted (Kafka Streams emits updates,
// kstream one final result per window) has the same count and the same average (to 1e-9, relative); and the
// counts add up to --records. Exits 1 if a check fails.
// --exactly-once: Kafka Streams with processing.guarantee=exactly_once_v2, kstream with consume --exactly-once;
// outputs are read read_committed.
// Kafka Streams runs with its defaults (one stream thread, RocksDB window store, record cache, commit interval 30 s
// or 100 ms under exactly-once) and the JVM's default heap; kstream with its defaults too.
// Without --brokers or KSTREAM_BROKERS it starts (or reuses) the development broker: node scripts/kafka.mjs up.
// --kafka-streams V (or KSTREAMS_VERSION): the kafka-streams version to build with; default 3.9.1, the dev broker's,
// and, when Maven Central will not serve it and none was asked for, 4.4.0 (the output names the one that ran).
// Kafka Streams' seconds include the JVM's start and the JIT's warm-up (at 200k records the compiler threads use about
// as much CPU as the stream thread): the app's own start()-to-close time is printed beside them.
// Needs java (17+), mvn and /usr/bin/time.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { broker, cli, clicksInput, DATA, flag, fmtSpread, ks, node, opt, outDir, q, root, say, spread, steps, userRow, usersFile } from './common.mjs';

const N = Number(opt('--records', 1_000_000));
const RUNS = Number(opt('--runs', 3));
const PARTITIONS = 3;
const EOS = flag('--exactly-once');
const JOB = opt('--job', 'windowed');
const ROWS = Number(opt('--rows', 100_000));
const KS_VALUES = opt('--ks-values', 'text');
if (!['windowed', 'join'].includes(JOB) || !['text', 'tree'].includes(KS_VALUES)) {
  say(`--job is windowed or join, --ks-values text or tree`);
  process.exit(2);
}
// The issue asks for Kafka Streams 3.9 (the dev broker's version); if Maven Central will not serve it, the newest 4.x
const WANTED = opt('--kafka-streams', process.env.KSTREAMS_VERSION ?? '3.9.1');
const FALLBACK = '4.4.0';
const TIME = '/usr/bin/time';
const APP = path.join(root, 'bench/kstreams');
const TARGET = path.join(APP, 'target');
const MAIN = JOB === 'join' ? 'kstream.bench.StreamTableJoin' : 'kstream.bench.WindowedCount';

for (const [what, ok] of [['java', spawnSync('java', ['-version']).status === 0], ['mvn', spawnSync('mvn', ['-v']).status === 0], [TIME, fs.existsSync(TIME)]]) {
  if (!ok) {
    say(`${what} is not installed — this bench needs java 17+, maven and /usr/bin/time (apt-get install -y openjdk-17-jdk-headless maven time)`);
    process.exit(2);
  }
}

/** What the build depends on: a change in any of these builds the app again. */
function sourceDigest(version) {
  const h = createHash('sha256').update(version);
  const walk = (p) => {
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p).sort()) walk(path.join(p, f));
    else h.update(path.relative(APP, p)).update(fs.readFileSync(p));
  };
  walk(path.join(APP, 'pom.xml'));
  walk(path.join(APP, 'src'));
  return h.digest('hex');
}

/** Builds bench/kstreams with `version` of kafka-streams unless target/ already holds that build; null when mvn fails. */
function build(version) {
  const stamp = path.join(TARGET, '.bench-build');
  const digest = sourceDigest(version);
  const jars = [path.join(TARGET, 'windowed-count.jar'), path.join(TARGET, 'lib', `kafka-streams-${version}.jar`)];
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest && jars.every((j) => fs.existsSync(j))) return version;
  say(`building bench/kstreams with kafka-streams ${version} (mvn package; the first build downloads its jars from Maven Central)…`);
  const t0 = Date.now();
  // clean: target/lib must not keep the jars of another version
  const r = spawnSync('mvn', ['-B', '-q', '-Dstyle.color=never', `-Dkafka.streams.version=${version}`, 'clean', 'package'],
    { cwd: APP, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0 || !jars.every((j) => fs.existsSync(j))) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').trim();
    say(`mvn package with kafka-streams ${version} failed (exit ${r.status}):\n${out.split('\n').slice(-15).join('\n')}`);
    return null;
  }
  fs.writeFileSync(stamp, digest);
  say(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return version;
}

let version = build(WANTED);
let versionNote = '';
if (!version && !opt('--kafka-streams') && !process.env.KSTREAMS_VERSION && WANTED !== FALLBACK) {
  version = build(FALLBACK);
  versionNote = ` (${WANTED} could not be built from Maven Central here: see above)`;
}
if (!version) process.exit(2);

const { brokers, stop } = await broker();
const { input, bytes } = clicksInput(N);
const env = { ...process.env, KSTREAM_BROKERS: brokers, NO_COLOR: '1' };
const { timed, admin, recordsIn } = steps(env);
const tag = Date.now().toString(36);
const inTopic = `bench-kstreams-in-${tag}`;
const tableTopic = `bench-kstreams-table-${tag}`;
const problems = [];
const created = []; // topics to delete at the end
const groups = [];

/** Peak RSS (KB), user + system CPU seconds written by /usr/bin/time -f '%M %U %S'. */
function usage(file) {
  const [rss, user, sys] = fs.readFileSync(file, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  fs.rmSync(file, { force: true });
  return { rss, cpu: user + sys };
}

/** Runs `argv` under /usr/bin/time; resolves with wall seconds, peak RSS, CPU seconds and stderr's last lines. */
function run(what, argv, timeoutMs) {
  const usageFile = path.join(outDir, `kstreams-usage-${process.pid}.txt`);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%M %U %S', '-o', usageFile, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err = (err + d).slice(-20_000); });
    // a hang (say, a record late past the grace: Kafka Streams would wait for it for ever) ends the bench, not the machine
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) {
        fs.rmSync(usageFile, { force: true });
        return reject(new Error(`${what} failed (exit ${code}):\n${err.trim().split('\n').slice(-8).join('\n')}`));
      }
      resolve({ s, ...usage(usageFile), stderr: err });
    });
  });
}

/** The last result per `<window start> <page>` in an output topic, and how many records the topic holds. */
function results(topic) {
  const isolation = EOS ? ' --isolation read_committed' : '';
  const text = timed(`read ${topic}`, `${ks} consume ${q(topic)} --offset start --exit --quiet${isolation}`).stdout;
  const last = new Map();
  let records = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    records++;
    const o = JSON.parse(line);
    // records of one page are in one partition, in the order emitted: the later one is the newer result
    last.set(`${o.window.start} ${o.key}`, { count: o.count, avg: o.avg_latency_ms });
  }
  return { last, records };
}

/** Differences between the two tools' final results, at most a few spelled out. */
function compare(a, b, round) {
  const diffs = [];
  for (const [k, x] of a.last) {
    const y = b.last.get(k);
    if (!y) diffs.push(`${k}: only in Kafka Streams' output`);
    else if (x.count !== y.count) diffs.push(`${k}: count ${x.count} (Kafka Streams) vs ${y.count} (kstream)`);
    else if (Math.abs(x.avg - y.avg) > 1e-9 * Math.max(1, Math.abs(x.avg))) diffs.push(`${k}: avg ${x.avg} (Kafka Streams) vs ${y.avg} (kstream)`);
  }
  for (const k of b.last.keys()) if (!a.last.has(k)) diffs.push(`${k}: only in kstream's output`);
  if (diffs.length) problems.push(`round ${round + 1}: ${diffs.length} of ${a.last.size} results differ: ${diffs.slice(0, 5).join('; ')}`);
  return diffs.length === 0;
}

/** Canonical JSON: object members sorted, so that two values compare equal whatever their members' order. */
function canon(x) {
  if (Array.isArray(x)) return `[${x.map(canon).join(',')}]`;
  if (x && typeof x === 'object') return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${canon(x[k])}`).join(',')}}`;
  return JSON.stringify(x);
}

/** The row the join should have found for a user: userRow(i) for u0…u<ROWS-1>, else null. Canonical. */
const expectedRows = new Map();
function expectedRow(user) {
  let e = expectedRows.get(user);
  if (e === undefined) {
    const m = /^u(\d+)$/.exec(String(user));
    e = m && Number(m[1]) < ROWS && String(Number(m[1])) === m[1] ? canon(userRow(Number(m[1]))) : 'null';
    expectedRows.set(user, e);
  }
  return e;
}

/**
 * The join's output topic, read as envelopes into a file and then line by line: `each(id, record)` per record, id
 * `<ts> <user>` (unique per input record: checked on the input), record the canonical {key, timestamp, value}.
 * Checks on the way (into `problems`): the profile is the user's row. Resolves with the number of records.
 */
async function joinResults(topic, tool, round, each) {
  const isolation = EOS ? ' --isolation read_committed' : '';
  const file = path.join(outDir, `kstreams-join-out-${process.pid}.ndjson`);
  timed(`read ${topic}`, `${ks} consume ${q(topic)} --offset start --exit --format envelope --quiet${isolation} > ${q(file)}`);
  let records = 0;
  let wrongRows = 0;
  let example = '';
  try {
    const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line) continue;
      records++;
      const e = JSON.parse(line);
      const v = typeof e.value === 'string' ? JSON.parse(e.value) : e.value;
      const profile = v && typeof v === 'object' && 'profile' in v ? canon(v.profile) : undefined;
      if (profile !== expectedRow(v?.user)) {
        if (!wrongRows++) example = `${line.slice(0, 300)} (expected profile ${expectedRow(v?.user)})`;
      }
      each(`${v?.ts} ${v?.user}`, canon({ key: e.key, timestamp: e.timestamp, value: v }));
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
  if (wrongRows) problems.push(`round ${round + 1} ${tool}: ${wrongRows} records without their user's row, e.g. ${example}`);
  if (records !== N) problems.push(`round ${round + 1} ${tool}: ${records} output records, expected ${N}`);
  return records;
}

/** Records of the Kafka Streams output, by id; each kstream record must match one (then taken out). */
async function compareJoin(ksOut, kstreamOut, round) {
  const app = new Map();
  let dupes = 0;
  const appRecords = await joinResults(ksOut, 'Kafka Streams', round, (id, rec) => {
    if (app.has(id)) dupes++;
    app.set(id, rec);
  });
  if (dupes) problems.push(`round ${round + 1} Kafka Streams: ${dupes} input records came out more than once`);
  const diffs = [];
  let kdupes = 0;
  const seen = new Set();
  const kstreamRecords = await joinResults(kstreamOut, 'kstream', round, (id, rec) => {
    if (seen.has(id)) kdupes++;
    seen.add(id);
    const a = app.get(id);
    if (a === undefined) diffs.push(`${id}: only in kstream's output`);
    else if (a !== rec) diffs.push(`${id}: Kafka Streams ${a.slice(0, 250)} vs kstream ${rec.slice(0, 250)}`);
  });
  if (kdupes) problems.push(`round ${round + 1} kstream: ${kdupes} input records came out more than once`);
  for (const id of app.keys()) if (!seen.has(id)) diffs.push(`${id}: only in Kafka Streams' output`);
  if (diffs.length) problems.push(`round ${round + 1}: ${diffs.length} of ${app.size} joined records differ: ${diffs.slice(0, 3).join('; ')}`);
  return { same: diffs.length === 0, appRecords, kstreamRecords };
}

/** Committed lag of `group` on the input topic: 0 once a tool has consumed (and committed) all of it. */
function inputLag(group) {
  const d = JSON.parse(timed(`groups describe ${group}`, `${ks} groups describe ${q(group)} --json`).stdout);
  return d.partitions.filter((p) => p.topic === inTopic).reduce((n, p) => n + (p.end - (p.committed ?? 0)), 0);
}

const joinTools = {
  'Kafka Streams': (round, out) => {
    const appId = `bench-kstreams-join-app-${tag}-${round}`;
    const stateDir = path.join(outDir, `kstreams-state-${tag}-${round}`);
    groups.push(appId);
    const cp = `${path.join(TARGET, 'windowed-count.jar')}:${path.join(TARGET, 'lib', '*')}`;
    const argv = ['java', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, MAIN, '--brokers', brokers,
      '--input', inTopic, '--table', tableTopic, '--output', out, '--application-id', appId, '--state-dir', stateDir,
      '--values', KS_VALUES, '--stop-after', String(N), ...(EOS ? ['--exactly-once'] : [])];
    return { group: appId, argv, cleanup: () => fs.rmSync(stateDir, { recursive: true, force: true }) };
  },
  kstream: (round, out) => {
    const group = `bench-kstreams-join-kstream-${tag}-${round}`;
    groups.push(group);
    const argv = [node, cli, 'consume', inTopic, '--group', group, '--exit', '--quiet', ...(EOS ? ['--exactly-once'] : []),
      '+', 'join', `global:${tableTopic}`, '--on', 'r.user', '--as', 'profile', '--left', '+', 'produce', out];
    return { group, argv, cleanup: () => {} };
  },
};
const windowedTools = {
  'Kafka Streams': (round, out) => {
    const appId = `bench-kstreams-app-${tag}-${round}`;
    const stateDir = path.join(outDir, `kstreams-state-${tag}-${round}`);
    groups.push(appId);
    // its internal topics: the repartition topic groupBy needs and the window store's changelog
    created.push(`${appId}-by-page-repartition`, `${appId}-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog`);
    const cp = `${path.join(TARGET, 'windowed-count.jar')}:${path.join(TARGET, 'lib', '*')}`;
    const argv = ['java', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, MAIN, '--brokers', brokers,
      '--input', inTopic, '--output', out, '--application-id', appId, '--state-dir', stateDir, '--stop-after', String(N),
      ...(EOS ? ['--exactly-once'] : [])];
    return { group: appId, argv, cleanup: () => fs.rmSync(stateDir, { recursive: true, force: true }) };
  },
  kstream: (round, out) => {
    const group = `bench-kstreams-kstream-${tag}-${round}`;
    groups.push(group);
    created.push(`${group}-kstream-state`, `${group}-aggregate-repartition`);
    const argv = [node, cli, 'consume', inTopic, '--group', group, '--exit', '--quiet', ...(EOS ? ['--exactly-once'] : []),
      '+', 'window', 'tumbling', '1m', '--time', 'r.ts', '--grace', '20m',
      '+', 'aggregate', 'count', 'avg(r.latency_ms)', '--by', 'r.page', '+', 'produce', out];
    return { group, argv, cleanup: () => {} };
  },
};
const tools = JOB === 'join' ? joinTools : windowedTools;
const figures = Object.fromEntries(Object.keys(tools).map((t) => [t, { s: [], rss: [], cpu: [], outRecords: [], processing: [], steady: [] }]));

say(`broker ${brokers}, ${N.toLocaleString('en')} ${DATA} records, ${PARTITIONS} partitions, ${RUNS} rounds, kafka-streams ${version}${EOS ? ', exactly-once' : ''}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  admin(`create ${q(inTopic)} --partitions ${PARTITIONS} --quiet`);
  created.push(inTopic);
  const load = timed('kstream produce', `${ks} produce ${q(inTopic)} --key r.user --quiet < ${q(input)}`);
  const stored = recordsIn(inTopic);
  if (stored !== N) throw new Error(`the input topic holds ${stored} records, expected ${N}`);
  say(`  loaded ${inTopic} in ${load.s.toFixed(2)} s (kstream produce --key r.user)`);
  if (JOB === 'join') {
    // the comparison identifies an input record by ts + user: they must be unique; and how many users have a row
    const ids = new Set();
    let matched = 0;
    for (const line of fs.readFileSync(input, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      ids.add(`${r.ts} ${r.user}`);
      if (expectedRow(r.user) !== 'null') matched++;
    }
    if (ids.size !== N) throw new Error(`the input has ${N - ids.size} records whose ts + user is not unique: the join check needs them unique`);
    const users = usersFile(ROWS);
    admin(`create ${q(tableTopic)} --partitions ${PARTITIONS} --config cleanup.policy=compact --quiet`);
    created.push(tableTopic);
    const t = timed('load the table', `${ks} map r.value --quiet < ${q(users)} | ${ks} produce ${q(tableTopic)} --key r.id --quiet`);
    const rows = recordsIn(tableTopic);
    if (rows !== ROWS) throw new Error(`the table topic holds ${rows} records, expected ${ROWS}`);
    say(`  loaded ${tableTopic} (${ROWS.toLocaleString('en')} rows) in ${t.s.toFixed(2)} s (kstream produce --key r.id); ${matched.toLocaleString('en')} of the ${N.toLocaleString('en')} input records have a row`);
  }

  for (let round = 0; round < RUNS; round++) {
    // alternate which tool goes first, so neither always gets the warmer broker
    const order = round % 2 === 0 ? ['Kafka Streams', 'kstream'] : ['kstream', 'Kafka Streams'];
    const outs = {};
    for (const tool of order) {
      const out = `bench-kstreams-out-${tool === 'kstream' ? 'kstream' : 'app'}-${tag}-${round}`;
      admin(`create ${q(out)} --partitions ${PARTITIONS} --quiet`);
      created.push(out);
      const job = tools[tool](round, out);
      try {
        const r = await run(tool, job.argv, 30 * 60_000);
        const lag = inputLag(job.group);
        if (lag !== 0) problems.push(`round ${round + 1} ${tool}: committed lag ${lag} on the input after the run, expected 0`);
        const f = figures[tool];
        f.s.push(r.s);
        f.rss.push(r.rss);
        f.cpu.push(r.cpu);
        if (JOB === 'join') {
          outs[tool] = { topic: out }; // read and compared once both have run
        } else {
          outs[tool] = results(out);
          f.outRecords.push(outs[tool].records);
          const total = [...outs[tool].last.values()].reduce((n, x) => n + x.count, 0);
          if (total !== N) problems.push(`round ${round + 1} ${tool}: the windows' counts add up to ${total}, expected ${N}`);
        }
        // the app's own account: from streams.start() to the last record aggregated / joined (no JVM start), then close()
        const own = r.stderr.match(/kafka-streams: \d+ records (aggregated|joined) in ([\d.]+) s, closed in ([\d.]+) s/);
        if (own) f.processing.push(Number(own[2]) + Number(own[3]));
        // join: from the first record joined (the JVM's start, the group join and the table's restore behind) to the last
        const first = r.stderr.match(/first record joined at ([\d.]+) s/);
        if (own && first) f.steady.push(Number(own[2]) - Number(first[1]));
        say(`  round ${round + 1} ${tool.padEnd(13)} ${r.s.toFixed(2)} s${own ? ` (${own[2]} s from start() to the last record ${own[1]}${first ? `, the first at ${first[1]} s` : ''}, close ${own[3]} s)` : ''}, peak RSS ${Math.round(r.rss / 1024)} MB, CPU ${r.cpu.toFixed(1)} s${outs[tool].records === undefined ? '' : `, ${outs[tool].records} output records`}`);
      } finally {
        job.cleanup();
      }
    }
    if (JOB === 'join') {
      const c = await compareJoin(outs['Kafka Streams'].topic, outs.kstream.topic, round);
      figures['Kafka Streams'].outRecords.push(c.appRecords);
      figures.kstream.outRecords.push(c.kstreamRecords);
      say(`  round ${round + 1}: ${c.appRecords} and ${c.kstreamRecords} joined records, ${c.same ? 'equal' : 'DIFFERENT'}`);
    } else {
      const same = compare(outs['Kafka Streams'], outs.kstream, round);
      say(`  round ${round + 1}: ${outs.kstream.last.size} (window, page) results, ${same ? 'equal' : 'DIFFERENT'}`);
    }
  }
} finally {
  for (const t of created) spawnSync('bash', ['-c', `${ks} topics delete ${q(t)} --quiet`], { env, stdio: 'ignore' });
  // Kafka Streams leaves its members to time out (it sends no LeaveGroup), so its groups may still be busy: best effort
  for (const g of groups) spawnSync('bash', ['-c', `${ks} groups delete ${q(g)} --quiet`], { env, stdio: 'ignore' });
  await stop();
}

const mb = (kb) => `${Math.round(kb / 1024)} MB`;
const rows = Object.entries(figures).map(([tool, f]) => ({ tool, s: spread(f.s), rss: spread(f.rss), cpu: spread(f.cpu), out: spread(f.outRecords) }));
const title = JOB === 'join'
  ? `stream–table left join on r.user with a global table of ${ROWS.toLocaleString('en')} rows (Kafka Streams values: ${KS_VALUES})`
  : 'window tumbling 1m (grace 20m) + count, avg(latency_ms) by page';
console.log(`\n${title}, topic to topic: ${N.toLocaleString('en')} ${DATA} records (${(bytes / 1e6).toFixed(1)} MB), ${PARTITIONS} partitions, median (range) of ${RUNS} rounds`);
console.log(`broker ${brokers}; kafka-streams ${version}${versionNote} on java ${(spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.match(/version "([^"]+)"/) ?? [])[1]}; kstream on node ${process.version}; ${EOS ? 'exactly-once (exactly_once_v2 / consume --exactly-once)' : 'at-least-once (both defaults)'}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`${'tool'.padEnd(14)} ${'seconds'.padStart(20)} ${'records/s'.padStart(11)} ${'peak RSS'.padStart(9)} ${'CPU s'.padStart(7)} ${'CPU/wall'.padStart(8)} ${'output records'.padStart(15)}`);
for (const r of rows) {
  console.log(`${r.tool.padEnd(14)} ${fmtSpread(r.s, 2).padStart(20)} ${Math.round(N / r.s.median).toLocaleString('en').padStart(11)} ${mb(r.rss.max).padStart(9)} ${r.cpu.median.toFixed(1).padStart(7)} ${`${Math.round((100 * r.cpu.median) / r.s.median)}%`.padStart(8)} ${String(r.out.median).padStart(15)}`);
}
const ratio = spread(figures.kstream.s.map((s, i) => figures['Kafka Streams'].s[i] / s));
console.log(`\nkstream/Kafka Streams throughput, per round: ${fmtSpread(ratio)}×`);
console.log(`seconds: start to exit (startup, group join, processing, last flush and commit); peak RSS: the largest of the rounds; CPU: user + system`);
const own = figures['Kafka Streams'].processing;
if (own.length) console.log(`Kafka Streams without JVM start-up (its own clock, streams.start() to the end of close()): ${fmtSpread(spread(own))} s, ${Math.round(N / spread(own).median).toLocaleString('en')} records/s; the JIT's warm-up stays in`);
const steady = figures['Kafka Streams'].steady;
if (steady.length) console.log(`Kafka Streams from its first record joined to its last (no start-up, no table restore, no close): ${fmtSpread(spread(steady))} s, ${Math.round(N / spread(steady).median).toLocaleString('en')} records/s`);
if (JOB === 'join') {
  console.log(`both read the whole table (Kafka Streams: into its RocksDB global store; kstream: into memory) before the first input record, inside the timed run`);
  console.log(problems.length ? `WRONG:\n  ${problems.join('\n  ')}` : `checked every round: each output holds one record per input record, with key, timestamp and value (parsed) equal on both sides and the user's row as profile, and each committed the whole input`);
} else {
  console.log(`Both write all ${N.toLocaleString('en')} records to a repartition topic and read them back (Kafka Streams' groupBy page, kstream's <group>-aggregate-repartition);`);
  console.log(`Kafka Streams emits updates as its cache flushes, kstream one final result per window and page.`);
  console.log(problems.length ? `WRONG:\n  ${problems.join('\n  ')}` : `checked every round: both tools' last results per (window, page) are equal (avg to 1e-9), their counts add up to ${N.toLocaleString('en')}, and each committed the whole input`);
}
if (problems.length) process.exit(1);
