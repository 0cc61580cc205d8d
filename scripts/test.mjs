#!/usr/bin/env node
/**
 * What `npm test` runs after the build: unit tests (test/*.test.mjs), then integration tests (test/it/*.test.mjs)
 * against a real broker.
 *
 *   node scripts/test.mjs                 unit (test/*.test.mjs, test/functions/) + integration
 *   node scripts/test.mjs --unit          unit only
 *   node scripts/test.mjs --it            integration only
 *   node scripts/test.mjs window ndjson   only test files whose path contains one of the words (a word that
 *                                         matches no file stops the run: exit 1, one line naming it)
 *
 * Integration tests get KSTREAM_BROKERS: the caller's value if set, otherwise a fresh broker on 127.0.0.1:39092
 * (dir .kafka/test-39092; start port from KSTREAM_TEST_KAFKA_PORT) that is stopped afterwards, also on failure or
 * Ctrl-C. Several runs in one working tree at once each get their own broker (39192, 39292, … when 39092 is taken);
 * a broker left by a killed run is stopped by the next run. When a selected integration file
 * mentions KSTREAM_SASL, that broker also gets its TLS listeners (SASL_SSL with SCRAM and PLAIN, TLS only, mutual
 * TLS: scripts/kafka.mjs up --sasl) and the tests get KSTREAM_SASL_BROKERS and KSTREAM_SASL_CONFIG (path of
 * sasl.json: {username, password, mechanism, caPem, tlsBootstrap, mtlsBootstrap, clientCertPem, clientKeyPem, …}).
 * Runner output is passed through unchanged (TAP, ending in `# pass N` / `# fail N`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { up, down, signalStop, portFree, alive } from './kafka.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KAFKA_ROOT = path.join(REPO, '.kafka');
const TEST_PORT = Number(process.env.KSTREAM_TEST_KAFKA_PORT || 39092);
// Node 20's --test-timeout bounds each test but also each whole file (the file runs as one test in the parent), so
// these are generous caps; a test that needs a tighter bound passes `{ timeout }` itself.
const UNIT_TIMEOUT_MS = 120_000;
const IT_TIMEOUT_MS = 180_000;

const say = (msg) => process.stderr.write(`test: ${msg}\n`);

function listTests(dir) {
  let names = [];
  try {
    names = fs.readdirSync(path.join(REPO, dir)).filter((f) => f.endsWith('.test.mjs'));
  } catch {
    /* no such dir */
  }
  return names.sort().map((f) => path.posix.join(dir, f));
}

function parseArgs(argv) {
  const o = { unit: false, it: false, filters: [] };
  for (const a of argv) {
    if (a === '--unit') o.unit = true;
    else if (a === '--it') o.it = true;
    else if (a.startsWith('-')) {
      say(`unknown option \`${a}\` — use --unit, --it, or words that select test files`);
      process.exit(2);
    } else o.filters.push(a);
  }
  if (!o.unit && !o.it) o.unit = o.it = true;
  return o;
}

/** For a caller-given KSTREAM_BROKERS that is a `kafka.mjs up --sasl` broker of this repo, its SASL settings. */
function saslOfLocalBroker(brokers) {
  const m = /^127\.0\.0\.1:(\d+)$/.exec(brokers.split(',')[0]);
  const file = m && path.join(REPO, '.kafka', m[1], 'sasl.json');
  if (!file || !fs.existsSync(file)) {
    say('some integration tests need KSTREAM_SASL_BROKERS/KSTREAM_SASL_CONFIG (see scripts/kafka.mjs up --sasl)');
    return {};
  }
  const info = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { KSTREAM_SASL_BROKERS: info.bootstrap, KSTREAM_SASL_CONFIG: file };
}

let current; // the running `node --test` child, so a signal can stop it
let testDir; // the data dir of the broker this run owns, once claimed

const ownerFile = (dir) => `${dir}.owner`;

/** Stops brokers whose test run is gone (killed with SIGKILL, machine crash) so they don't pile up. */
async function reapLeftovers() {
  let names = [];
  try {
    names = fs.readdirSync(KAFKA_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory() && /^test-\d+$/.test(d.name));
  } catch {
    return;
  }
  for (const { name } of names) {
    const dir = path.join(KAFKA_ROOT, name);
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(ownerFile(dir), 'utf8'));
    } catch {
      /* no owner: a leftover */
    }
    if (owner && alive(owner)) continue;
    await down({ dir });
    fs.rmSync(ownerFile(dir), { force: true });
  }
}

/** Claims a port and dir no other live test run uses: TEST_PORT, else TEST_PORT+100, +200, … */
async function claimTestBroker() {
  fs.mkdirSync(KAFKA_ROOT, { recursive: true });
  for (let port = TEST_PORT; port < TEST_PORT + 2000; port += 100) {
    const dir = path.join(KAFKA_ROOT, `test-${port}`);
    if (fs.existsSync(ownerFile(dir)) || !(await portFree(port))) continue;
    try {
      fs.writeFileSync(ownerFile(dir), String(process.pid), { flag: 'wx' });
    } catch {
      continue; // another run claimed it a moment ago
    }
    return { port, dir };
  }
  throw new Error(`no free port for a test broker in ${TEST_PORT}..${TEST_PORT + 1900} (step 100) — set KSTREAM_TEST_KAFKA_PORT`);
}

/** Runs `node --test` with its output passed through unchanged; resolves to { code, pass, fail } from the summary. */
function runNodeTest(files, extraArgs, env) {
  return new Promise((resolve) => {
    const args = ['--test', '--test-reporter=tap', ...extraArgs, ...files];
    current = spawn(process.execPath, args, { cwd: REPO, stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let tail = '';
    current.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    });
    current.on('close', (code, signal) => {
      current = undefined;
      const count = (what) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(tail)?.[1] ?? NaN);
      resolve({ code: code ?? (signal ? 1 : 0), pass: count('pass'), fail: count('fail') });
    });
  });
}

async function stopBroker(interrupted = false) {
  if (!testDir) return;
  const dir = testDir;
  testDir = undefined;
  try {
    await down({ dir, noLock: interrupted });
  } catch (e) {
    say(`stopping the test broker failed: ${e.message}`);
  }
  fs.rmSync(ownerFile(dir), { force: true });
}

// `npm test | head` closes stdout early; keep going so the broker still gets stopped
process.stdout.on('error', () => {});
// whatever ends this process (an uncaught error included), the test broker must not outlive it
process.on('exit', () => {
  if (!testDir) return;
  signalStop({ dir: testDir });
  fs.rmSync(ownerFile(testDir), { force: true });
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    say(`${sig}: stopping`);
    current?.kill(sig);
    await stopBroker(true);
    process.exit(130);
  });
}

/** Programs the tests run besides Node, with the Debian package that brings each (the README's prerequisites). */
const TOOLS = {
  // zsh and fish: the completion tests run the generated scripts in each shell they are for
  unit: [['jq', 'jq'], ['zsh', 'zsh'], ['fish', 'fish']],
  it: [['java', 'openjdk-17-jdk-headless'], ['keytool', 'openjdk-17-jdk-headless'], ['mvn', 'maven'], ['openssl', 'openssl'], ['kcat', 'kcat'], ['jq', 'jq'], ['zsh', 'zsh'], ['fish', 'fish']],
};

function onPath(cmd) {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Stops at once, in one line, when a program the selected tests need is missing, instead of failing test by test. */
function preflight(o) {
  const need = [...(o.unit ? TOOLS.unit : []), ...(o.it && !process.env.KSTREAM_BROKERS ? TOOLS.it : o.it ? TOOLS.it.filter(([c]) => ['kcat', 'jq', 'zsh', 'fish'].includes(c)) : [])];
  const missing = need.filter(([cmd]) => !onPath(cmd));
  if (missing.length === 0) return;
  const cmds = [...new Set(missing.map(([c]) => `\`${c}\``))].join(', ');
  const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
  say(`${cmds} not found — install ${missing.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: apt-get install ${pkgs}); the README's "Tests" section lists what the tests need`);
  process.exit(1);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  preflight(o);
  const pick = (files) => (o.filters.length ? files.filter((f) => o.filters.some((w) => f.includes(w))) : files);
  // a word that selects no file is a typo, not a pass: stop in one line before starting anything
  if (o.filters.length) {
    const all = [...(o.unit ? [...listTests('test'), ...listTests('test/functions')] : []), ...(o.it ? listTests('test/it') : [])];
    const unmatched = o.filters.filter((w) => !all.some((f) => f.includes(w)));
    if (unmatched.length) {
      say(`no ${o.unit && o.it ? '' : o.unit ? 'unit ' : 'integration '}test file matches ${unmatched.map((w) => `\`${w}\``).join(', ')}`);
      process.exit(1);
    }
  }
  const failed = [];
  const summary = [];
  const note = (name, r) => {
    summary.push(`${name} ${Number.isNaN(r.pass) ? '?' : r.pass} passed, ${Number.isNaN(r.fail) ? '?' : r.fail} failed`);
    if (r.code !== 0) failed.push(name);
  };

  if (o.unit) {
    // aggregate functions have a test file each, in test/functions/
    const unit = pick([...listTests('test'), ...listTests('test/functions')]);
    if (unit.length === 0) say(o.filters.length ? 'no unit test files match' : 'no unit test files (test/*.test.mjs)');
    else note('unit', await runNodeTest(unit, [`--test-timeout=${UNIT_TIMEOUT_MS}`], {}));
  }

  if (o.it) {
    const its = pick(listTests('test/it'));
    if (its.length === 0) say(o.filters.length ? 'no integration test files match' : 'no integration test files (test/it/*.test.mjs)');
    else {
      const env = {};
      const sasl = its.some((f) => fs.readFileSync(path.join(REPO, f), 'utf8').includes('KSTREAM_SASL'));
      if (process.env.KSTREAM_BROKERS) {
        env.KSTREAM_BROKERS = process.env.KSTREAM_BROKERS;
        if (sasl && !process.env.KSTREAM_SASL_BROKERS) Object.assign(env, saslOfLocalBroker(env.KSTREAM_BROKERS));
        say(`integration tests against KSTREAM_BROKERS=${env.KSTREAM_BROKERS}${env.KSTREAM_SASL_BROKERS ? ` (sasl ${env.KSTREAM_SASL_BROKERS})` : ''}`);
      } else {
        await reapLeftovers();
        const claim = await claimTestBroker();
        testDir = claim.dir;
        const b = await up({ ...claim, sasl });
        env.KSTREAM_BROKERS = b.bootstrap;
        if (b.saslBootstrap) {
          env.KSTREAM_SASL_BROKERS = b.saslBootstrap;
          env.KSTREAM_SASL_CONFIG = b.saslConfig;
        }
        say(`integration tests against a fresh broker at ${b.bootstrap}${b.saslBootstrap ? ` (sasl ${b.saslBootstrap})` : ''}`);
      }
      // the files share one broker: one file at a time keeps them from starving each other on small machines
      note('integration', await runNodeTest(its, ['--test-concurrency=1', `--test-timeout=${IT_TIMEOUT_MS}`], env));
      await stopBroker();
    }
  }

  if (summary.length) say(summary.join('; '));
  if (failed.length) {
    say(`FAILED: ${failed.join(', ')} tests`);
    process.exitCode = 1;
  }
}

main().catch(async (e) => {
  say(e?.message ?? String(e));
  await stopBroker();
  process.exit(1);
});
