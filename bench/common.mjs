// What the Kafka throughput benches (bench/kafka.mjs, bench/kafka-clients.mjs) share: their options, kcat, the
// broker they run against, the generated clicks input file, timed shell steps and the kcat / kstream commands.
// Only node built-ins at load time: kafka-clients.mjs's timed worker processes import this module too.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const args = process.argv.slice(2);
export const flag = (name) => args.includes(name);
export const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
export const say = (s) => process.stderr.write(s + '\n');
export const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
export const node = process.execPath;
export const cli = path.join(root, 'dist/src/cli.js');
export const outDir = path.join(root, 'bench/out');
export const ks = `${q(node)} ${q(cli)}`;

/** Exits 2 when kcat is not installed. */
export function requireKcat() {
  if (spawnSync('kcat', ['-V']).status !== 0) {
    say('kcat is not installed — apt-get install -y kcat');
    process.exit(2);
  }
}

/** [kcat version, librdkafka version] from `kcat -V`. */
export function kcatVersions() {
  return (spawnSync('kcat', ['-V'], { encoding: 'utf8' }).stdout.match(/Version ([\w.]+)[^\n]*?librdkafka ([\w.]+)/) ?? []).slice(1);
}

/**
 * The broker to run against: --brokers, else KSTREAM_BROKERS, else the development broker (scripts/kafka.mjs up,
 * started or reused). `stop()` stops it if this run started it.
 */
export async function broker() {
  let brokers = opt('--brokers', process.env.KSTREAM_BROKERS);
  if (brokers) return { brokers, stop: async () => {} };
  const { up, down } = await import('../scripts/kafka.mjs');
  const r = await up();
  brokers = r.bootstrap;
  const started = !r.reused;
  return { brokers, stop: async () => { if (started) await down(); } };
}

/** bench/out/clicks-<n>.ndjson, generated once with `kstream gen --preset clicks --seed 1`; its path and size. */
export function clicksInput(n) {
  fs.mkdirSync(outDir, { recursive: true });
  const input = path.join(outDir, `clicks-${n}.ndjson`);
  if (!fs.existsSync(input)) {
    say(`generating ${n} clicks records → ${path.relative(root, input)}`);
    execFileSync('bash', ['-c', `${ks} gen --preset clicks --count ${n} --seed 1 > ${q(input)}`], { stdio: 'inherit' });
  }
  return { input, bytes: fs.statSync(input).size };
}

/**
 * Shell steps run with `env`: `timed` runs a command and returns its wall time in seconds and its stdout (a non-zero
 * exit fails the bench); `admin` runs `kstream topics …`; `recordsIn` counts a topic's records from its offsets;
 * `onFreshTopic` and `checkRead` are the steps of one timed run of one tool.
 */
export function steps(env) {
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

  /**
   * One run of one tool (`cmds`: its produce and consume command lines) on a fresh `topic` with `partitions`:
   * produce into it (timed), check that it holds `n` records (else a line in `problems`), consume it to /dev/null
   * (timed); then `then(p, c)` with the two timed steps, before the topic is deleted.
   */
  function onFreshTopic({ tool, run, cmds, topic, partitions, n, problems }, then) {
    admin(`create ${q(topic)} --partitions ${partitions} --quiet`);
    try {
      const p = timed(`${tool} produce`, cmds.produce(topic));
      const stored = recordsIn(topic);
      if (stored !== n) problems.push(`${tool} produce run ${run + 1}: topic holds ${stored} records, expected ${n}`);
      const c = timed(`${tool} consume`, cmds.consume(topic, '> /dev/null'));
      then(p, c);
    } finally {
      admin(`delete ${q(topic)} --quiet`);
    }
  }

  /** Untimed: the timed runs consume to /dev/null, so count what the consumer reads once (else a line in `problems`). */
  function checkRead({ tool, cmds, topic, n, problems }) {
    const read = Number(timed(`${tool} consume (count)`, cmds.consume(topic, '| wc -l')).stdout.trim());
    if (read !== n) problems.push(`${tool} consume read ${read} records, expected ${n}`);
  }

  return { timed, admin, recordsIn, onFreshTopic, checkRead };
}

/** The produce (from `input`) and consume (all `n` records, into `sink`) command lines of kcat and kstream. */
export function cliTools({ brokers, input, n }) {
  return {
    kcat: {
      produce: (t) => `kcat -P -b ${q(brokers)} -t ${q(t)} -l ${q(input)}`,
      consume: (t, sink) => `kcat -C -b ${q(brokers)} -t ${q(t)} -o beginning -e -q ${sink}`,
    },
    kstream: {
      produce: (t) => `${ks} produce ${q(t)} --quiet < ${q(input)}`,
      consume: (t, sink) => `${ks} consume ${q(t)} --offset start --exit --count ${n} ${sink}`,
    },
  };
}
