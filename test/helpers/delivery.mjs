// The kill -9 loop behind the delivery tests (test/it/delivery*.test.mjs) and bench/delivery.mjs: run a consuming
// pipeline against a real broker, kill it at points spread over the stream, restart it, and count what reached the
// output topic.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
export const KS = `"${process.execPath}" "${CLI}"`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A seeded PRNG (mulberry32): the kill points of a run can be replayed from its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function admin(brokers) {
  const kafka = new Kafka({ clientId: 'kstream-delivery', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  return kafka.admin();
}

/**
 * The shared start of an integration test file against the broker at KSTREAM_BROKERS: its `brokers`, the `env` for
 * kstream child processes, a connected kafkajs admin `adm`, and `topics` / `groups` lists to push names onto, which
 * are deleted (errors ignored) in the file's `after` hook before the admin disconnects.
 */
export async function itContext() {
  const { after } = await import('node:test'); // loaded here: bench/delivery.mjs imports this module too
  const brokers = process.env.KSTREAM_BROKERS ?? '';
  const env = { KSTREAM_BROKERS: brokers, CI: 'true', NO_COLOR: '1' };
  const adm = admin(brokers);
  await adm.connect();
  const topics = [];
  const groups = [];
  after(async () => {
    await adm.deleteTopics({ topics }).catch(() => {});
    await adm.deleteGroups(groups).catch(() => {});
    await adm.disconnect();
  });
  return { brokers, env, adm, topics, groups };
}

/** Sum of the end offsets of a topic's partitions (records, plus transaction markers). */
export async function endSum(adm, topic) {
  const offs = await adm.fetchTopicOffsets(topic);
  return offs.reduce((n, o) => n + Number(o.high), 0);
}

/**
 * Starts `command` (a shell command line) in its own process group, so a kill reaches every process of a pipe.
 * Resolves `exited` with { code, signal, stderr }.
 */
export function startGroup(command, env) {
  const child = spawn('sh', ['-c', command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited, kill: (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } } };
}

/**
 * Runs `command` `kills` times, each time sending `signal` (SIGKILL) to its processes once the output topic grew
 * past a point drawn between k/(kills+1) and (k+1)/(kills+1) of `expected` records beyond where it started (or,
 * when the stream has already gone further because of replays, once this run has written output of its own, after
 * a short random delay); then runs `finish` to the end. `target`: 'group' signals the whole process group (shell
 * included), 'children' every process of the pipeline but not the shell, 'first' only the first process of the
 * pipeline. With `inTopic` and `group`, each kill also records the group's committed offsets on the input topic
 * (`committed`, summed) and the input's end (`inputEnd`). Returns what happened per run; `midStreamProblems(runs)`
 * says which kills did not land mid-stream.
 */
export async function killLoop({ brokers, command, finish, outTopic, expected, kills, seed = 1, env = {}, log = () => {}, maxRunMs = 60_000, signal = 'SIGKILL', target: whom = 'group', inTopic, group }) {
  const adm = admin(brokers);
  await adm.connect();
  const rand = rng(seed);
  const runs = [];
  try {
    const base = await endSum(adm, outTopic);
    for (let k = 0; k < kills; k++) {
      const lo = base + (k / (kills + 1)) * expected;
      const hi = base + ((k + 1) / (kills + 1)) * expected;
      const target = lo + rand() * (hi - lo);
      const before = await endSum(adm, outTopic);
      const p = startGroup(command, env);
      const t0 = Date.now();
      let how = 'progress';
      let ended;
      p.exited.then((r) => (ended = r));
      if (before >= target) {
        // replays took the output past the target: kill once this run has written some output itself, so the kill
        // still lands mid-stream, not during startup
        how = 'delay';
        while (!ended && (await endSum(adm, outTopic)) <= before) {
          if (Date.now() - t0 > maxRunMs) { how = 'timeout'; break; }
          await sleep(15);
        }
        if (how === 'delay') await sleep(rand() * 300);
      } else {
        while (!ended && (await endSum(adm, outTopic)) < target) {
          if (Date.now() - t0 > maxRunMs) { how = 'timeout'; break; }
          await sleep(15);
        }
      }
      if (ended) throw new Error(`run ${k} ended by itself before the kill (code ${ended.code}): ${ended.stderr}`);
      if (whom === 'group') p.kill(signal);
      else signalChildren(p.child.pid, signal, whom === 'first');
      const r = await p.exited;
      const after = await endSum(adm, outTopic);
      const at = { run: k, how, target: Math.round(target), outBefore: before, outAfter: after, ms: Date.now() - t0, code: r.code, signal: r.signal, stderr: r.stderr };
      if (inTopic && group) {
        at.committed = await committedSum(adm, group, inTopic);
        at.inputEnd = await endSum(adm, inTopic);
      }
      runs.push(at);
      log(`run ${k}: killed (${how}) after ${Date.now() - t0} ms, output ${before} → ${after}${at.inputEnd !== undefined ? `, input committed ${at.committed} of ${at.inputEnd}` : ''}`);
    }
    const p = startGroup(finish, env);
    const t0 = Date.now();
    const timer = setTimeout(() => p.kill('SIGKILL'), maxRunMs * 3);
    const r = await p.exited;
    clearTimeout(timer);
    runs.push({ run: kills, how: 'final', ms: Date.now() - t0, code: r.code, stderr: r.stderr, outAfter: await endSum(adm, outTopic) });
    log(`final run: exit ${r.code} after ${Date.now() - t0} ms${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    if (r.code !== 0) throw new Error(`final run failed (${r.code}): ${r.stderr}`);
  } finally {
    await adm.disconnect();
  }
  return runs;
}

/** Sum of a group's committed offsets on a topic's partitions (a partition without a commit counts 0). */
export async function committedSum(adm, group, topic) {
  const offs = await adm.fetchOffsets({ groupId: group, topics: [topic] });
  return offs[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/**
 * Which kills of a `killLoop` did not land mid-stream, as messages (empty when all did): a kill lands mid-stream
 * when the killed run had written output of its own before it (the output topic grew during the run: not a kill
 * during startup), the output grew again after it (a later run went on), and — when the loop recorded the group's
 * commits — the group had not yet committed the whole input (the kill did not come after the stream was done).
 */
export function midStreamProblems(runs) {
  const problems = [];
  for (let i = 0; i + 1 < runs.length; i++) {
    const r = runs[i];
    const next = runs[i + 1];
    const label = `kill ${r.run} (${r.how}, after ${r.ms} ms, output ${r.outBefore} → ${r.outAfter})`;
    if (r.how === 'final') continue;
    if (!(r.outAfter > r.outBefore)) problems.push(`${label}: the run had written no output before it was killed`);
    if (!(next.outAfter > r.outAfter)) problems.push(`${label}: no output after it (next run ends at ${next.outAfter})`);
    if (r.inputEnd !== undefined && !(r.committed < r.inputEnd)) problems.push(`${label}: the group had already committed the whole input (${r.committed} of ${r.inputEnd})`);
  }
  return problems;
}

/**
 * Signals the processes of a shell pipeline (`sh -c "a | b"`) but not the shell, which then exits with the last
 * one's code: all of them, or only the first (the lowest pid: the shell starts them left to right).
 */
function signalChildren(shellPid, signal, firstOnly) {
  const kids = fs.readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8').trim().split(/\s+/).map(Number).filter(Boolean);
  if (kids.length === 0) throw new Error('the pipeline has no processes');
  for (const pid of firstOnly ? [Math.min(...kids)] : kids) {
    try { process.kill(pid, signal); } catch { /* gone */ }
  }
}

/**
 * Counts the ids (the number in `field` of each NDJSON line of `stdout`): how many distinct, how many lines were
 * duplicates, how many of `expectedIds` are missing and how many ids were not expected.
 */
export function countIds(stdout, expectedIds, field = 'id') {
  const re = new RegExp(`"${field}":(\\d+)`);
  const seen = new Map();
  let lines = 0;
  let p = 0;
  for (;;) {
    const e = stdout.indexOf('\n', p);
    if (e < 0) break;
    const m = re.exec(stdout.slice(p, e));
    p = e + 1;
    if (!m) continue;
    lines++;
    seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  }
  let missing = 0;
  const examples = [];
  for (const id of expectedIds) {
    if (!seen.has(id)) {
      missing++;
      if (examples.length < 5) examples.push(id);
    }
  }
  const unexpected = [...seen.keys()].filter((id) => !expectedIds.has(id)).length;
  return { lines, distinct: seen.size, duplicates: lines - seen.size, missing, missingExamples: examples, unexpected };
}

/** Runs a shell command to completion; resolves { code, stdout, stderr }. */
export function sh(command, env = {}, input) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { env: { ...process.env, ...env } });
    const out = [];
    let stderr = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Kills a broker started by scripts/kafka.mjs with SIGKILL and starts it again on the same data dir (topics,
 * offsets and transactions survive), after `downMs`. Its state file gets the new pid, so `kafka.mjs down` still
 * stops it. Resolves once the broker answers again.
 */
export async function restartBroker(dir, { downMs = 1000, onDown = async () => {} } = {}) {
  const path = await import('node:path');
  const stateFile = path.join(dir, 'broker.json');
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  const argv = fs.readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(state.pid, 'SIGKILL');
  while (alive(state.pid)) await sleep(20);
  await onDown();
  await sleep(downMs);
  const log = fs.openSync(path.join(dir, 'kafka.log'), 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log], cwd: dir });
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(stateFile, JSON.stringify({ ...state, pid: child.pid }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'kafka.pid'), `${child.pid}\n`);
  const adm = admin(`127.0.0.1:${state.port}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await adm.connect();
      await adm.listTopics();
      await adm.disconnect();
      return child.pid;
    } catch (e) {
      await adm.disconnect().catch(() => {});
      if (Date.now() > deadline) throw new Error(`broker in ${dir} did not come back: ${e.message}`);
      await sleep(200);
    }
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
