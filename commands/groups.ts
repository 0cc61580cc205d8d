import process from 'node:process';
import type { CommandSpec } from '../src/pipeline/command.js';
import { RuntimeError, UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS } from '../src/kafka/config.js';
import { parseOne, resolveOffset, type PartitionBounds } from '../src/kafka/offsets.js';
import { tpKey, type KafkaClient, type TopicPartitionOffset } from '../src/kafka/types.js';
import { colorLevel, paint } from '../src/report/table.js';
import { kafkaLog } from './consume.js';
import { withClient } from './topics.js';
import { printJson, printTable } from '../src/report/table.js';

const ACTIONS = ['list', 'describe', 'reset', 'delete'];

interface LagRow {
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
  member: string | null;
}

/** Committed offset, end offset and lag per partition of every topic the group has offsets for (or `topics`). */
async function lagOf(client: KafkaClient, groupId: string, topics: string[] | undefined): Promise<{ state: string; members: number; rows: LagRow[] }> {
  const [desc] = await client.describeGroups([groupId]);
  const committed = await client.committedOffsets(groupId, topics);
  const owner = new Map<string, string>();
  for (const m of desc?.members ?? []) for (const a of m.assignment) owner.set(tpKey(a.topic, a.partition), `${m.clientId}@${m.host.replace(/^\//, "")}`);
  const names = topics ?? [...new Set([...committed.map((o) => o.topic), ...[...owner.keys()].map((k) => k.split('\u0000')[0])])].sort();
  const byKey = new Map(committed.map((o) => [tpKey(o.topic, o.partition), o.offset]));
  const rows: LagRow[] = [];
  for (const topic of names) {
    const offs = await client.offsets(topic);
    for (const o of offs) {
      const key = tpKey(topic, o.partition);
      const c = byKey.get(key);
      const has = c !== undefined && c >= 0;
      // a partition with no committed offset is read from its log start (where `consume --group` begins), so all
      // of it is lag: leaving it out made a group that never read a partition look caught up
      rows.push({ topic, partition: o.partition, committed: has ? c! : null, end: o.end, lag: Math.max(0, o.end - (has ? Math.max(c!, o.start) : o.start)), member: owner.get(key) ?? null });
    }
  }
  return { state: desc?.state ?? 'Dead', members: desc?.members.length ?? 0, rows };
}

const groups: CommandSpec = {
  name: 'groups',
  args: '[action] [group]',
  summary: 'List consumer groups, show per-partition lag, reset or delete committed offsets (group must be inactive)',
  examples: [
    'kstream groups',
    'kstream groups describe stats',
    'kstream groups reset stats --to start',
    'kstream groups reset stats --to @-1h --topic clicks',
    'kstream groups delete stats',
  ],
  actions: ACTIONS,
  options: [
    { flags: '--to <offset>', description: 'reset: start | end | <n> | +<n> | -<n> | @<epoch ms> | @<RFC 3339> | @-<duration>' },
    { flags: '-t, --topic <topic>', kind: 'list', description: 'describe/reset: only this topic (repeatable; reset: also topics the group has no offsets for yet)' },
    { flags: '--dry-run', description: 'reset: show the new offsets without writing them' },
    { flags: '--json', description: 'Machine-readable output' },
    ...CONNECTION_OPTIONS,
  ],
  async run(args, opts, ctx) {
    const action = args.length === 0 ? 'list' : args[0];
    if (!ACTIONS.includes(action)) throw new UsageError(`unknown groups action \`${action}\``, `use ${ACTIONS.join(', ')}, e.g. kstream groups describe <group>`);
    const groupId = args[1];
    if (action !== 'list' && !groupId) throw new UsageError(`\`groups ${action}\` needs a group`, `kstream groups ${action} <group>`);
    if (args.length > 2) throw new UsageError(`unexpected \`${args[2]}\``, `kstream groups ${action} <group>`);
    const topics = opts.topic === undefined ? undefined : (Array.isArray(opts.topic) ? opts.topic : [opts.topic]).map(String);
    if (action === 'reset' && opts.to === undefined) throw new UsageError('`groups reset` needs --to', 'e.g. --to start, --to end, --to @-1h, --to 1000');
    const c = paint(colorLevel(process.stdout));
    return withClient(opts, kafkaLog(opts, ctx), async (client) => {
      if (action === 'list') {
        const list = await client.listGroups();
        const descs = list.length ? await client.describeGroups(list.map((g) => g.groupId)) : [];
        const rows = list.map((g, i) => ({ group: g.groupId, state: descs[i]?.state ?? '', members: descs[i]?.members.length ?? 0, protocolType: g.protocolType }));
        if (opts.json) printJson(rows);
        else printTable(['group', 'state', 'members', 'type'], rows.map((r) => [r.group, r.state, r.members, r.protocolType || '-']), c, 'no consumer groups');
        return 0;
      }
      if (action === 'describe') {
        const lag = await lagOf(client, groupId, topics);
        if (lag.state === 'Dead' && lag.rows.every((r) => r.committed === null)) {
          throw new RuntimeError(`group \`${groupId}\` does not exist`, 'list groups with `kstream groups`');
        }
        const total = lag.rows.reduce((n, r) => n + r.lag, 0);
        if (opts.json) printJson({ group: groupId, state: lag.state, members: lag.members, lag: total, partitions: lag.rows });
        else {
          process.stdout.write(`${c.bold(groupId)}: ${lag.state}, ${lag.members} member${lag.members === 1 ? '' : 's'}, lag ${total}\n`);
          printTable(['topic', 'partition', 'committed', 'end', 'lag', 'member'],
            lag.rows.map((r) => [r.topic, r.partition, r.committed ?? '-', r.end, r.lag, r.member ?? '-']), c, 'no committed offsets');
          if (lag.rows.some((r) => r.committed === null)) process.stdout.write(c.dim('committed - : no offset yet; its lag counts the whole partition, from the log start (where `consume --group` begins by default; a member starting at the end would have less)') + '\n');
        }
        return 0;
      }
      if (action === 'delete') {
        await client.deleteGroups([groupId]);
        if (!opts.quiet) ctx.log(`kstream: deleted group \`${groupId}\``);
        return 0;
      }
      // reset
      const spec = parseOne(String(opts.to), Date.now());
      if (spec.kind === 'stored') throw new UsageError('`--to stored` changes nothing', 'use start, end, @<time> or an offset');
      const [desc] = await client.describeGroups([groupId]);
      if (desc && desc.members.length > 0) {
        throw new RuntimeError(`group \`${groupId}\` is active (${desc.members.length} member${desc.members.length === 1 ? '' : 's'}, ${desc.state})`, 'stop its consumers first: offsets can only be reset while the group is empty');
      }
      const current = await client.committedOffsets(groupId, topics);
      const names = topics ?? [...new Set(current.map((o) => o.topic))].sort();
      if (names.length === 0) throw new RuntimeError(`group \`${groupId}\` has no committed offsets`, 'name the topics to set with --topic <topic>');
      const before = new Map(current.map((o) => [tpKey(o.topic, o.partition), o.offset]));
      const next: TopicPartitionOffset[] = [];
      for (const topic of names) {
        const offs = await client.offsets(topic);
        const times = spec.kind === 'time' ? await client.offsetsForTime(topic, spec.ts) : undefined;
        for (const o of offs) {
          const b: PartitionBounds = { start: o.start, end: o.end, atTime: times?.get(o.partition) };
          next.push({ topic, partition: o.partition, offset: resolveOffset(spec, b, undefined) });
        }
      }
      if (!opts.dryRun) await client.setCommittedOffsets(groupId, next);
      const rows = next.map((o) => ({ ...o, before: before.get(tpKey(o.topic, o.partition)) ?? -1 }));
      if (opts.json) printJson({ group: groupId, dryRun: !!opts.dryRun, offsets: rows.map((r) => ({ topic: r.topic, partition: r.partition, before: r.before < 0 ? null : r.before, after: r.offset })) });
      else {
        printTable(['topic', 'partition', 'before', 'after'], rows.map((r) => [r.topic, r.partition, r.before < 0 ? '-' : r.before, r.offset]), c, '');
        if (opts.dryRun && !opts.quiet) ctx.log('kstream: dry run: nothing written');
      }
      return 0;
    });
  },
};

export default groups;
