// What the benches share: their options (--check among them), kcat, the broker they run against, the generated
// clicks input files (cached in bench/out, written atomically and recounted when reused), timed shell steps and the
// kcat / kstream commands.
// Only node built-ins at load time: kafka-clients.mjs's timed worker processes import this module too.
//
// Every bench checks its counts or outputs on every timed run and exits 1 when one is wrong. A bench that prints a
// target (a ratio it should stay within) also exits 1 when it misses one, under --check; without it, a miss is
// printed and the exit is 0 (machines differ).
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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
/** The kstream build measured: this tree's, or another one's with --cli (a before/after in one session). */
export const cli = path.resolve(opt('--cli', path.join(root, 'dist/src/cli.js')));
export const outDir = path.join(root, 'bench/out');
export const ks = `${q(node)} ${q(cli)}`;
/** --check: a missed target exits 1. */
export const check = flag('--check');

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

/** The number of lines of a file (its '\n' bytes), read in chunks. */
export function countLines(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  let lines = 0;
  try {
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      for (let i = buf.indexOf(10); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) lines++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return lines;
}

/**
 * The data a bench runs on (--data): the `clicks` preset (~105 B records of 7 fields, uniform keys), or `wide`
 * (~520 B records of 24 fields: floats with six decimals, long strings, nested objects, users and pages drawn from
 * skewed Zipf distributions). Both have the fields the bench stages read: ts, user, page, latency_ms, ok.
 */
export const DATA = opt('--data', 'clicks');
const WIDE = '{"ts":{{ts}},"user":"u{{zipf 100000 1.2}}","page":"/p/{{zipf 2000 1.4}}","latency_ms":{{float 0 400 3}},"ok":{{bool 0.9}},'
  + '"country":"{{pick DE FR US GB JP BR IN NL SE PL}}","score":{{float -1000 1000 6}},"ratio":{{float 0 1 6}},"lat":{{float -90 90 6}},"lon":{{float -180 180 6}},'
  + '"bytes":{{int 0 10000000}},"session":"{{uuid}}","agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{{int 90 130}}.0.0.0 Safari/537.36",'
  + '"ref":"https://example.org/{{pick search news shop blog}}/{{int 1 99999}}","tags":["{{pick a b c d}}","{{pick e f g}}"],"geo":{"city":"{{pick Berlin Paris Austin Leeds Osaka}}","zip":"{{int 10000 99999}}"},'
  + '"m1":{{float 0 100 4}},"m2":{{float 0 100 4}},"m3":{{float 0 100 4}},"m4":{{int -500 500}},"flag":{{bool 0.2}},"v":{{int 1 9}},"note":"{{pick ok retry timeout error}}"}';
const GEN = { clicks: '--preset clicks', wide: `--template ${q(WIDE)}` };
if (!GEN[DATA]) {
  say(`unknown --data \`${DATA}\` — use ${Object.keys(GEN).join(' or ')}`);
  process.exit(2);
}

/** The table row of user u<i> that the join benches use: {id, tier, since, score}. */
export const userRow = (i) => ({ id: `u${i}`, tier: ['free', 'pro', 'team'][i % 3], since: 1700000000000 + i * 1000, score: ((i * 7919) % 1000) / 10 });

/** bench/out/users-<rows>.ndjson: one row per user u0…u<rows-1>, `{key, value: userRow(i)}` as `table --snapshot` writes rows. Made once. */
export function usersFile(rows) {
  fs.mkdirSync(outDir, { recursive: true });
  const f = path.join(outDir, `users-${rows}.ndjson`);
  if (fs.existsSync(f) && countLines(f) === rows) return f;
  const fd = fs.openSync(`${f}.tmp`, 'w');
  let s = '';
  for (let i = 0; i < rows; i++) {
    s += JSON.stringify({ key: `u${i}`, value: userRow(i) }) + '\n';
    if (s.length > 1 << 20) { fs.writeSync(fd, s); s = ''; }
  }
  fs.writeSync(fd, s);
  fs.closeSync(fd);
  fs.renameSync(`${f}.tmp`, f);
  return f;
}

/** Median, min and max of a list of figures (a bench's runs). */
export function spread(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}

/** `1.23 (1.10–1.40)`: a median and its range. */
export const fmtSpread = (x, digits = 2) => `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}–${x.max.toFixed(digits)})`;

/** Input of the current --data, n records: see dataInput. */
export function clicksInput(n, opts = {}) {
  return dataInput(n, { ...opts, data: opts.data ?? DATA });
}

/**
 * bench/out/<name> (default <data>-<n>.ndjson): `kstream gen <preset or template> --count <n> --seed <seed>`, made
 * once. Written to a temporary file and renamed, so a killed run leaves no half file under the real name; when
 * reused, its lines are counted again and a file that does not hold n records is made anew. Its path and size.
 */
export function dataInput(n, { seed = 1, data = DATA, name = `${data}-${n}${seed === 1 ? '' : `-s${seed}`}.ndjson` } = {}) {
  fs.mkdirSync(outDir, { recursive: true });
  const input = path.join(outDir, name);
  if (fs.existsSync(input)) {
    const lines = countLines(input);
    if (lines === n) return { input, bytes: fs.statSync(input).size };
    say(`${path.relative(root, input)} holds ${lines} lines, not ${n}: making it again`);
  }
  say(`generating ${n} ${data} records → ${path.relative(root, input)}`);
  const tmp = `${input}.tmp-${process.pid}`;
  try {
    execFileSync('bash', ['-c', `set -o pipefail; ${q(node)} ${q(path.join(root, 'dist/src/cli.js'))} gen ${GEN[data]} --count ${n} --seed ${seed} > ${q(tmp)}`], { stdio: 'inherit' });
    const lines = countLines(tmp);
    if (lines !== n) throw new Error(`kstream gen wrote ${lines} lines into ${tmp}, expected ${n}`);
    fs.renameSync(tmp, input);
  } finally {
    fs.rmSync(tmp, { force: true });
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
   * produce into it (timed), check that it holds `n` records (else a line in `problems`), consume it (timed) into
   * `wc -l` and check that it read `n` records — every run, the timed one itself (a tool that counts what it reads
   * itself, `cmds.selfCounting`, is checked by the caller from its output); then `then(p, c)` with the two timed
   * steps, before the topic is deleted.
   */
  function onFreshTopic({ tool, run, cmds, topic, partitions, n, problems }, then) {
    admin(`create ${q(topic)} --partitions ${partitions} --quiet`);
    try {
      const p = timed(`${tool} produce`, cmds.produce(topic));
      const stored = recordsIn(topic);
      if (stored !== n) problems.push(`${tool} produce run ${run + 1}: topic holds ${stored} records, expected ${n}`);
      const c = timed(`${tool} consume`, cmds.consume(topic, '| wc -l'));
      if (!cmds.selfCounting) {
        const read = Number(c.stdout.trim());
        if (read !== n) problems.push(`${tool} consume run ${run + 1} read ${read} records, expected ${n}`);
      }
      then(p, c);
    } finally {
      admin(`delete ${q(topic)} --quiet`);
    }
  }

  return { timed, admin, recordsIn, onFreshTopic };
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

/**
 * Runs shell commands whose stdout is NDJSON in interleaved rounds: every variant once per round, in an order that
 * turns each round (none always follows the same one). Checks every run: `lines` lines out (when given), and the
 * same bytes as the variant's first run. Returns per variant its seconds and output digest, and what went wrong.
 */
export function interleaved(variants, runs, { lines, label = 24 } = {}) {
  const problems = [];
  const times = new Map(variants.map(([name]) => [name, []]));
  const digests = new Map();
  for (let i = 0; i < runs; i++) {
    const order = variants.map((_, k) => variants[(k + i) % variants.length]);
    for (const [name, cmd] of order) {
      const out = path.join(outDir, 'interleaved-out.ndjson');
      const t0 = process.hrtime.bigint();
      const r = spawnSync('bash', ['-c', `set -o pipefail; ${cmd} > ${q(out)}`], { stdio: ['ignore', 'inherit', 'inherit'] });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 0) throw new Error(`${name} failed (exit ${r.status})`);
      times.get(name).push(s);
      const n = countLines(out);
      if (lines !== undefined && n !== lines) problems.push(`${name} run ${i + 1}: ${n} lines, expected ${lines}`);
      const d = createHash('sha256').update(fs.readFileSync(out)).digest('hex').slice(0, 12);
      if (digests.has(name) && d !== digests.get(name)) problems.push(`${name} run ${i + 1} wrote other bytes than run 1`);
      digests.set(name, d);
      fs.rmSync(out);
      say(`  round ${i + 1} ${name.padEnd(label)} ${s.toFixed(3)} s`);
    }
  }
  return { times, digests, problems };
}
