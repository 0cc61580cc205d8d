// `topics` and `groups` against the real broker at KSTREAM_BROKERS: tables, --json, and the admin actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { itContext } from '../helpers/broker.mjs';
import { run, start } from '../helpers/spawn.mjs';

const T = { timeout: 60_000 };
const ctx = await itContext();
const { env, adm: admin } = ctx;

const { ks, ok } = ctx;

const json = async (args) => JSON.parse((await ok([...args, '--json'])).stdout);
const topicName = () => ctx.name('tg');
const groupName = () => ctx.groupName('tg');

test('topics create, list, describe (partitions, leaders, offsets, configs), delete', T, async () => {
  const t = topicName();
  const c = await ok(['topics', 'create', t, '--partitions', '3', '--config', 'retention.ms=3600000', '--config', 'cleanup.policy=delete']);
  assert.equal(c.stderr, `kstream: created topic \`${t}\`\n`);
  await ok(['produce', t, '--key', 'r.k', '--quiet'], { input: Array.from({ length: 40 }, (_, i) => JSON.stringify({ k: `k${i}` })).join('\n') });

  const list = await json(['topics', 'list']);
  const mine = list.find((x) => x.topic === t);
  assert.deepEqual(mine, { topic: t, partitions: 3, replicas: 1, records: 40 });
  assert.ok(!list.some((x) => x.topic.startsWith('__')));
  assert.ok((await json(['topics', '--all'])).some((x) => x.topic === '__consumer_offsets'));
  const table = (await ok(['topics'])).stdout;
  assert.match(table, new RegExp(`${t}\\s*│\\s*3\\s*│\\s*1\\s*│\\s*40`));

  const d = await json(['topics', 'describe', t]);
  assert.equal(d.topic, t);
  assert.equal(d.partitions.length, 3);
  assert.equal(d.partitions.reduce((n, p) => n + p.records, 0), 40);
  for (const p of d.partitions) {
    assert.equal(p.leader, 1);
    assert.deepEqual(p.replicas, [1]);
    assert.deepEqual(p.isr, [1]);
    assert.equal(p.start, 0);
    assert.equal(p.end, p.records);
  }
  assert.equal(d.configs['retention.ms'], '3600000');
  assert.equal(d.configs['cleanup.policy'], 'delete');
  const all = await json(['topics', 'describe', t, '--all']);
  assert.ok(Object.keys(all.configs).length > Object.keys(d.configs).length);
  const dt = (await ok(['topics', 'describe', t])).stdout;
  assert.match(dt, new RegExp(`^${t}: 3 partitions\\n`));
  assert.match(dt, /retention\.ms\s*│\s*3600000/);

  const again = await ks(['topics', 'create', t]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, new RegExp(`topic \`${t}\` already exists`));

  const del = await ok(['topics', 'delete', t]);
  assert.equal(del.stderr, `kstream: deleted \`${t}\`\n`);
  const gone = await ks(['topics', 'describe', t]);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, `kstream: topic \`${t}\` does not exist — list topics with \`kstream topics\`\n`);
  const delGone = await ks(['topics', 'delete', t]);
  assert.equal(delGone.code, 1);
  const bad = await ks(['topics', 'frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown topics action `frobnicate`/);
});

test('groups list and describe: per-partition committed offset, end offset and lag', T, async () => {
  const t = topicName();
  const g = groupName();
  await ok(['topics', 'create', t, '--partitions', '2', '-q']);
  await ok(['produce', t, '--partition', '0', '--quiet'], { input: Array.from({ length: 10 }, (_, i) => `{"i":${i}}`).join('\n') });
  await ok(['produce', t, '--partition', '1', '--quiet'], { input: Array.from({ length: 4 }, (_, i) => `{"i":${i}}`).join('\n') });
  await ok(['consume', t, '--group', g, '--exit', '--partition', '0', '--count', '6']);

  const list = await json(['groups', 'list']);
  assert.deepEqual(list.find((x) => x.group === g), { group: g, state: 'Empty', members: 0, protocolType: 'consumer' });
  const d = await json(['groups', 'describe', g, '--topic', t]);
  assert.equal(d.state, 'Empty');
  // partition 1 has no committed offset: the group would read all 4 of its records (the total counted 4 before)
  assert.equal(d.lag, 8);
  assert.deepEqual(d.partitions, [
    { topic: t, partition: 0, committed: 6, end: 10, lag: 4, member: null },
    { topic: t, partition: 1, committed: null, end: 4, lag: 4, member: null },
  ]);
  const table = (await ok(['groups', 'describe', g])).stdout;
  assert.match(table, new RegExp(`^${g}: Empty, 0 members, lag 8\\n`));
  assert.match(table, /committed - : no offset yet; its lag counts the whole partition, from the log start/);
  assert.match(table, new RegExp(`${t}\\s*│\\s*0\\s*│\\s*6\\s*│\\s*10\\s*│\\s*4`));

  const missing = await ks(['groups', 'describe', `no-such-group-${randomUUID()}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /group `no-such-group-.*` does not exist/);
});

test('groups reset --to start|end|<n>|@time, --dry-run; refused while the group is active', T, async () => {
  const t = topicName();
  const g = groupName();
  await ok(['topics', 'create', t, '--partitions', '1', '-q']);
  const now = Date.now();
  const recs = Array.from({ length: 10 }, (_, i) => JSON.stringify({ partition: 0, timestamp: now - (10 - i) * 60_000, key: null, headers: [], value: { i } }));
  await ok(['produce', t, '--envelope', '--quiet'], { input: recs.join('\n') });
  await ok(['consume', t, '--group', g, '--exit']);
  const committed = async () => Number((await admin.fetchOffsets({ groupId: g, topics: [t] }))[0].partitions[0].offset);
  assert.equal(await committed(), 10);

  const dry = await json(['groups', 'reset', g, '--to', 'start', '--dry-run']);
  assert.deepEqual(dry, { group: g, dryRun: true, offsets: [{ topic: t, partition: 0, before: 10, after: 0 }] });
  assert.equal(await committed(), 10);
  await ok(['groups', 'reset', g, '--to', 'start']);
  assert.equal(await committed(), 0);
  await ok(['groups', 'reset', g, '--to', '7']);
  assert.equal(await committed(), 7);
  await ok(['groups', 'reset', g, '--to', '-2']);
  assert.equal(await committed(), 8);
  await ok(['groups', 'reset', g, '--to', 'end']);
  assert.equal(await committed(), 10);
  await ok(['groups', 'reset', g, '--to', '@-4m']); // records 7, 8, 9 are newer than 4 minutes (minus the run time)
  assert.equal(await committed(), 7);
  await ok(['groups', 'reset', g, '--to', `@${new Date(now - 5 * 60_000).toISOString()}`]);
  assert.equal(await committed(), 5);
  // the group resumes from the reset offset
  const rest = (await ok(['consume', t, '--group', g, '--exit'])).stdout.trim().split('\n').map((l) => JSON.parse(l).i);
  assert.deepEqual(rest, [5, 6, 7, 8, 9]);

  const noTo = await ks(['groups', 'reset', g]);
  assert.equal(noTo.code, 2);
  assert.match(noTo.stderr, /`groups reset` needs --to/);

  // an active member blocks the reset
  const member = start(['consume', t, '--group', g], { env, group: false, stdout: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      const s = (await admin.describeGroups([g])).groups[0];
      if (s.state === 'Stable') break;
      if (i === 400) assert.fail(`the consumer did not join group ${g} within 40 s (state ${s.state})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const busy = await ks(['groups', 'reset', g, '--to', 'start']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`group \`${g}\` is active \\(1 member, Stable\\) — stop its consumers first`));
    const live = await json(['groups', 'describe', g]);
    assert.equal(live.state, 'Stable');
    assert.match(live.partitions[0].member, /^kstream@/);
  } finally {
    member.kill('SIGINT');
    await member.exited;
  }
});

test("a broker's refusal keeps its own words; a missing group is named; produce --create refuses a --partition the new topic could not have, before making it", T, async () => {
  // kafkajs kept only the code's text: "Configuration is invalid", "Error in DeleteGroups"
  const t = topicName();
  const bad = await ks(['topics', 'create', t, '--config', 'bogus.key=1']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, new RegExp(`^kstream: \`${t}\`: Unknown topic config name: bogus\\.key \\(INVALID_CONFIG\\)`));
  const g = groupName();
  const missing = await ks(['groups', 'delete', g]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `kstream: group \`${g}\` does not exist — see the groups there are with \`kstream groups list\`\n`);
  // it made the topic, then failed on partition 3 of 1
  const p = topicName();
  const refused = await ks(['produce', p, '--create', '-p', '3'], { input: '{"a":1}\n' });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^kstream: --partition 3 needs a topic of at least 4 partitions, .* — add --partitions 4 \(or more\)/);
  assert.ok(!(await json(['topics', 'list'])).some((x) => x.topic === p), 'no topic made');
  const small = await ks(['produce', p, '--create', '--partitions', '2', '-p', '3'], { input: '{"a":1}\n' });
  assert.equal(small.code, 2);
  assert.match(small.stderr, /^kstream: --partition 3 needs a topic of at least 4 partitions, and --create would make `.*` with 2 — add --partitions 4/);
  assert.ok(!(await json(['topics', 'list'])).some((x) => x.topic === p), 'no topic made');
  // partition 0 is in every topic: no check (it was refused)
  const zero = topicName();
  await ok(['produce', zero, '--create', '-p', '0', '--quiet'], { input: '{"a":1}\n' });
  await ok(['produce', p, '--create', '--partitions', '4', '-p', '3', '--quiet'], { input: '{"a":1}\n' });
  const d = await json(['topics', 'describe', p]);
  assert.equal(d.partitions.length, 4);
});

test('consume --group with --offset says when the group\'s committed offsets overrule it (it was ignored without a word)', T, async () => {
  const t = topicName();
  const g = groupName();
  await ok(['topics', 'create', t, '--partitions', '2', '-q']);
  await ok(['produce', t, '--partition', '0', '--quiet'], { input: '{"i":1}\n{"i":2}\n{"i":3}\n' });
  await ok(['consume', t, '--group', g, '--exit']);
  await ok(['produce', t, '--partition', '0', '--quiet'], { input: '{"i":4}\n{"i":5}\n' });
  const r = await ok(['consume', t, '--group', g, '--exit', '--offset', 'start']);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l).i), [4, 5], 'the group resumes at its commits');
  assert.equal(r.stderr, `kstream: group \`${g}\` resumes at its committed offsets on 1 of 2 partitions; --offset start applies only where it has none — to start over, stop its consumers and run \`kstream groups reset ${g} --to start\`\n`);
  // no word when --offset is the default or asks for the commits
  const quiet = await ok(['consume', t, '--group', g, '--exit', '--offset', 'stored']);
  assert.equal(quiet.stderr, '');
  assert.equal((await ok(['consume', t, '--group', g, '--exit'])).stderr, '');
});

test('SASL flags against a plaintext listener: one line saying the listener takes no SASL (it was ILLEGAL_SASL_STATE and "rerun with --verbose")', T, async () => {
  const r = await run(['topics', '--sasl-mechanism', 'plain', '--sasl-username', 'u'], { env: { ...env, KSTREAM_SASL_PASSWORD: 'not-shown' } });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `kstream: SASL plain at \`${env.KSTREAM_BROKERS}\` refused: the listener does not take SASL (ILLEGAL_SASL_STATE) — use the port of a SASL listener, or drop --sasl-mechanism/--sasl-username for a plaintext one\n`);
});
