// The broker the integration tests run against (KSTREAM_BROKERS, started by scripts/test.mjs): one context per test
// file, and the broker facts tests read (end offsets, committed offsets), plus restarting the broker itself.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { run } from './spawn.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A kafkajs admin client (not connected) for `brokers` (a comma-separated list). */
export function admin(brokers, clientId = 'kstream-test') {
  const kafka = new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  return kafka.admin();
}

/**
 * The shared start of an integration test file against the broker at KSTREAM_BROKERS: its `brokers`, the `env` for
 * kstream child processes, a connected kafkajs admin `adm`, `topics` / `groups` lists to push names onto, which
 * are deleted (errors ignored) in the file's `after` hook before the admin disconnects; `name(what)` makes a
 * unique topic name and pushes it, `groupName(what)` a unique group name, `createTopic(what, partitions)` creates
 * a fresh topic (waiting for its leaders) and returns its name.
 * `{ own: 'name' }`: a broker of the file's own instead (scripts/kafka.mjs on a free port, data dir
 * .kafka/<name>-<port>, returned as `dir`: a test may kill and restart it), stopped in the `after` hook.
 */
export async function itContext({ own } = {}) {
  const { after } = await import('node:test'); // loaded here: bench/delivery.mjs imports this module too
  let brokers = process.env.KSTREAM_BROKERS ?? '';
  let dir;
  let stop = async () => {};
  if (own) {
    const { up, down, ownTarget } = await import('../../scripts/kafka.mjs');
    const target = await ownTarget(own);
    dir = target.dir;
    stop = () => down({ dir });
    try {
      brokers = (await up(target)).bootstrap;
    } catch (e) {
      await stop();
      throw e;
    }
  }
  if (!brokers) throw new Error('KSTREAM_BROKERS is not set — run through `node scripts/test.mjs` (it starts a broker) or set it to host:port');
  const env = { KSTREAM_BROKERS: brokers, CI: 'true', NO_COLOR: '1' };
  const adm = admin(brokers);
  await adm.connect();
  const topics = [];
  const groups = [];
  after(async () => {
    await adm.deleteTopics({ topics }).catch(() => {});
    if (groups.length) await adm.deleteGroups(groups).catch(() => {});
    await adm.disconnect().catch(() => {});
    await stop();
  });
  const name = (what = 't') => {
    const t = `it-${what}-${randomUUID().slice(0, 8)}`;
    topics.push(t);
    return t;
  };
  const groupName = (what = 'g') => {
    const g = `it-${what}-${randomUUID().slice(0, 8)}`;
    groups.push(g);
    return g;
  };
  const createTopic = async (what = 't', partitions = 1, configEntries) => {
    const t = name(what);
    await adm.createTopics({ topics: [{ topic: t, numPartitions: partitions, ...(configEntries ? { configEntries } : {}) }], waitForLeaders: true });
    return t;
  };
  /** kstream against this broker (`env` adds to the broker's environment). */
  const ks = (args, { input, env: extra } = {}) => run(args, { input, env: { ...env, ...extra } });
  /** kstream that must succeed: its result, or a failure naming the command and its stderr. */
  const ok = async (args, opts) => {
    const r = await ks(args, opts);
    assert.equal(r.code, 0, `kstream ${Array.isArray(args) ? args.join(' ') : args} failed (${r.code}): ${r.stderr}`);
    return r;
  };
  return { brokers, env, adm, topics, groups, name, groupName, createTopic, dir, ks, ok };
}

/** Sum of the end offsets of a topic's partitions (records, plus transaction markers). */
export async function endSum(adm, topic) {
  const offs = await adm.fetchTopicOffsets(topic);
  return offs.reduce((n, o) => n + Number(o.high), 0);
}

/** Sum of a group's committed offsets on a topic's partitions (a partition without a commit counts 0). */
export async function committedSum(adm, group, topic) {
  const offs = await adm.fetchOffsets({ groupId: group, topics: [topic] });
  return offs[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills a broker started by scripts/kafka.mjs with SIGKILL and starts it again on the same data dir (topics,
 * offsets and transactions survive), after `downMs`. Its state file gets the new pid, so `kafka.mjs down` still
 * stops it. Resolves once the broker answers again.
 */
export async function restartBroker(dir, { downMs = 1000, onDown = async () => {} } = {}) {
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
