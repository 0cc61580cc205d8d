// `topics alter-config` and `topics add-partitions` against the real broker at KSTREAM_BROKERS, each change read
// back through kstream and, independently, through a kafkajs admin client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';

const T = { timeout: 60_000 };
const ctx = await itContext();
const { env, adm: admin } = ctx;

const { ks, ok } = ctx;

const json = async (args) => JSON.parse((await ok([...args, '--json'])).stdout);

/** The topic's configs as the broker describes them to kafkajs: name → { value, fromTopic }. */
async function brokerConfigs(topic) {
  const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic }] });
  return new Map(res.resources[0].configEntries.map((e) => [e.configName, { value: e.configValue, fromTopic: e.configSource === 1 }]));
}

/** Exactly one line on stderr, and its text. */
function oneLine(r) {
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  return r.stderr;
}

const WARNING = 'kstream: warning: adding partitions moves keys: a new record with a key may go to another partition than the earlier records with that key, so per-key order holds only among records written after the change\n';

test('alter-config --set changes one config and leaves the others; --delete reverts to the default; --dry-run writes nothing', T, async () => {
  const t = ctx.name('alter');
  await ok(['topics', 'create', t, '--config', 'retention.ms=3600000', '--config', 'cleanup.policy=compact', '-q']);
  const segmentDefault = (await brokerConfigs(t)).get('segment.ms').value;

  const set = await ok(['topics', 'alter-config', t, '--set', 'retention.ms=86400000']);
  assert.equal(set.stdout, 'retention.ms: 3600000 → 86400000\n');
  assert.equal(set.stderr, '');
  assert.equal((await json(['topics', 'describe', t])).configs['retention.ms'], '86400000');
  let cfg = await brokerConfigs(t);
  assert.deepEqual(cfg.get('retention.ms'), { value: '86400000', fromTopic: true });
  // the legacy AlterConfigs would have dropped it: it replaces the whole config with the one sent
  assert.deepEqual(cfg.get('cleanup.policy'), { value: 'compact', fromTopic: true });

  // a dry run: the broker checks it, nothing changes
  const dry = await ok(['topics', 'alter-config', t, '--set', 'segment.ms=600000', '--delete', 'retention.ms', '--dry-run']);
  assert.equal(dry.stdout, `segment.ms: ${segmentDefault} (default) → 600000\nretention.ms: 86400000 → (default)\n`);
  assert.equal(dry.stderr, 'kstream: dry run: nothing written\n');
  cfg = await brokerConfigs(t);
  assert.deepEqual(cfg.get('retention.ms'), { value: '86400000', fromTopic: true });
  assert.deepEqual(cfg.get('segment.ms'), { value: segmentDefault, fromTopic: false });
  const dryBad = await ks(['topics', 'alter-config', t, '--set', 'bogus.key=1', '--dry-run']);
  assert.equal(dryBad.code, 1);
  assert.match(oneLine(dryBad), /Unknown topic config name: bogus\.key/);

  // a set and a delete in one request
  const both = await ok(['topics', 'alter-config', t, '--set', 'segment.ms=600000', '--delete', 'retention.ms']);
  cfg = await brokerConfigs(t);
  assert.equal(cfg.get('retention.ms').fromTopic, false);
  const retentionDefault = cfg.get('retention.ms').value;
  assert.equal(both.stdout, `segment.ms: ${segmentDefault} (default) → 600000\nretention.ms: 86400000 → ${retentionDefault} (default)\n`);
  assert.deepEqual(cfg.get('segment.ms'), { value: '600000', fromTopic: true });
  assert.deepEqual(cfg.get('cleanup.policy'), { value: 'compact', fromTopic: true });
  const d = (await json(['topics', 'describe', t])).configs;
  assert.equal(d['segment.ms'], '600000');
  assert.equal(d['cleanup.policy'], 'compact');

  // deleting a config the topic does not set, or setting the value it has, changes nothing and says so (sets are
  // listed first, then deletes)
  const again = await ok(['topics', 'alter-config', t, '--delete', 'retention.ms', '--set', 'segment.ms=600000']);
  assert.equal(again.stdout, `segment.ms: 600000, unchanged\nretention.ms: ${retentionDefault} (default), unchanged\n`);

  // values the broker stores in its own spelling: the wait for the change to show ended only at its 10 s deadline
  const t2 = ctx.name('spelled');
  await ok(['topics', 'create', t2, '--config', 'cleanup.policy=compact', '-q']);
  const t0 = Date.now();
  const spelled = await ok(['topics', 'alter-config', t2, '--set', 'retention.ms=+7200000', '--set', 'unclean.leader.election.enable=TRUE', '--set', 'cleanup.policy=compact, delete']);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.match(spelled.stdout, /^retention\.ms: .* → 7200000\n/m);
  assert.match(spelled.stdout, /^unclean\.leader\.election\.enable: .* → true\n/m);
  const same = await ok(['topics', 'alter-config', t2, '--set', 'cleanup.policy=compact,delete']);
  assert.match(same.stdout, /^cleanup\.policy: compact,delete, unchanged\n$/);

  const j = await json(['topics', 'alter-config', t, '--set', 'retention.ms=1000']);
  assert.deepEqual(j, {
    topic: t,
    dryRun: false,
    changes: [{ name: 'retention.ms', op: 'set', before: retentionDefault, beforeIsDefault: true, after: '1000', afterIsDefault: false, changed: true }],
  });
});

test('alter-config refusals: the broker\'s own words on one line, nothing applied; usage errors before connecting', T, async () => {
  const t = ctx.name('alter');
  await ok(['topics', 'create', t, '--config', 'retention.ms=3600000', '-q']);

  const bogus = await ks(['topics', 'alter-config', t, '--set', 'retention.ms=5', '--set', 'bogus.key=1']);
  assert.equal(bogus.code, 1);
  assert.match(oneLine(bogus), new RegExp(`^kstream: \`${t}\`: Unknown topic config name: bogus\\.key \\(INVALID_CONFIG\\)`));
  const badValue = await ks(['topics', 'alter-config', t, '--set', 'retention.ms=abc']);
  assert.equal(badValue.code, 1);
  assert.match(oneLine(badValue), new RegExp(`^kstream: \`${t}\`: Invalid value abc for configuration retention\\.ms`));
  // one request for the topic: the valid half of a refused one is not applied either
  assert.deepEqual((await brokerConfigs(t)).get('retention.ms'), { value: '3600000', fromTopic: true });

  const missing = `it-no-such-${randomUUID().slice(0, 8)}`;
  const gone = await ks(['topics', 'alter-config', missing, '--set', 'retention.ms=1']);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, `kstream: topic \`${missing}\` does not exist — list topics with \`kstream topics\`\n`);

  const usage = [
    [['--set', 'retention.ms'], 'kstream: invalid --set `retention.ms` — use name=value, e.g. --set retention.ms=86400000\n'],
    [[], 'kstream: `topics alter-config` needs --set or --delete — e.g. kstream topics alter-config clicks --set retention.ms=86400000 --delete cleanup.policy\n'],
    [['--set', 'a=1', '--delete', 'a'], 'kstream: config `a` is given more than once — set or delete each config once\n'],
    [['--delete', 'a=1'], 'kstream: invalid --delete `a=1` — --delete takes a config name only: --delete a\n'],
    [['--config', 'a=1'], 'kstream: --config does not apply to `topics alter-config` — use --set name=value\n'],
  ];
  for (const [extra, line] of usage) {
    const r = await ks(['topics', 'alter-config', t, ...extra]);
    assert.equal(r.code, 2, extra.join(' '));
    assert.equal(r.stderr, line);
  }
});

test('add-partitions grows a topic to --count in total; keyed records still go in; a count not above the current one is refused', T, async () => {
  const t = ctx.name('grow');
  await ok(['topics', 'create', t, '--partitions', '1', '-q']);
  const records = (from) => Array.from({ length: 30 }, (_, i) => JSON.stringify({ k: `k${from + i}` })).join('\n');
  await ok(['produce', t, '--key', 'r.k', '--quiet'], { input: records(0) });
  const partitionsSeen = async () => (await admin.fetchTopicMetadata({ topics: [t] })).topics[0].partitions.length;

  const dry = await ok(['topics', 'add-partitions', t, '--count', '3', '--dry-run']);
  assert.equal(dry.stdout, `${t}: 1 → 3 partitions\n`);
  assert.equal(dry.stderr, `${WARNING}kstream: dry run: nothing written\n`);
  assert.equal((await json(['topics', 'describe', t])).partitions.length, 1);
  assert.equal(await partitionsSeen(), 1);

  const grow = await ok(['topics', 'add-partitions', t, '--count', '3']);
  assert.equal(grow.stdout, `${t}: 1 → 3 partitions\n`);
  assert.equal(grow.stderr, WARNING);
  const d = await json(['topics', 'describe', t]);
  assert.deepEqual(d.partitions.map((p) => [p.partition, p.leader >= 0, p.records]), [[0, true, 30], [1, true, 0], [2, true, 0]]);
  assert.equal(await partitionsSeen(), 3);

  // keyed records spread over the new partitions too, none lost
  await ok(['produce', t, '--key', 'r.k', '--quiet'], { input: records(30) });
  const after = (await json(['topics', 'describe', t])).partitions;
  assert.equal(after.reduce((n, p) => n + p.records, 0), 60);
  assert.ok(after[1].records + after[2].records > 0, JSON.stringify(after));
  const keys = (await ok(['consume', t, '--exit', '--format', 'envelope'])).stdout.trim().split('\n').map((l) => JSON.parse(l).key);
  assert.equal(new Set(keys).size, 60);

  for (const n of ['3', '2']) {
    const r = await ks(['topics', 'add-partitions', t, '--count', n]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `kstream: --count ${n} is not more than the 3 partitions \`${t}\` has — partitions can only be added: give the new total, more than 3 (e.g. --count 4)\n`);
  }
  assert.equal(await partitionsSeen(), 3);
  const j = await json(['topics', 'add-partitions', t, '--count', '4', '-q']);
  assert.deepEqual(j, { topic: t, dryRun: false, before: 3, after: 4 });
  assert.equal(await partitionsSeen(), 4);

  const missing = `it-no-such-${randomUUID().slice(0, 8)}`;
  const gone = await ks(['topics', 'add-partitions', missing, '--count', '2']);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, `kstream: topic \`${missing}\` does not exist — list topics with \`kstream topics\`\n`);
  const noCount = await ks(['topics', 'add-partitions', t]);
  assert.equal(noCount.code, 2);
  assert.equal(noCount.stderr, `kstream: \`topics add-partitions\` needs --count — give the new total, e.g. kstream topics add-partitions ${t} --count 12\n`);
  const wrong = await ks(['topics', 'add-partitions', t, '--partitions', '5']);
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stderr, 'kstream: --partitions does not apply to `topics add-partitions` — use --count <n>, the new total\n');
});
