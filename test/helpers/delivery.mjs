// The kill -9 loop behind the delivery tests (test/it/delivery*.test.mjs, state-windows) and bench/delivery.mjs: run
// a consuming pipeline against a real broker, kill it at points spread over the stream, restart it, and count what
// reached the output topic. Processes are started with spawn.mjs, the broker is read with broker.mjs.
import fs from 'node:fs';
import { start } from './spawn.mjs';
import { admin, committedSum, endSum } from './broker.mjs';

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
      const p = startPipeline(command, env);
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
    const p = startPipeline(finish, env);
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
 * Starts a shell command line in its own process group (a kill reaches every process of a pipe), its stdout
 * dropped; `exited` resolves { code, signal, stderr }.
 */
function startPipeline(command, env) {
  return start(command, { env, stdin: 'ignore', stdout: 'ignore' });
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
