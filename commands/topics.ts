import process from 'node:process';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import { sameConfigValue, type ConfigAlteration, type ConfigEntry, type KafkaClient } from '../src/kafka/types.js';
import { openKafka } from '../src/kafka/client/open.js';
import { colorLevel, paint, printJson, printTable } from '../src/report/table.js';
import { parseCount } from '../src/time/duration.js';
import { kafkaLog } from './consume.js';

export async function withClient<T>(opts: Opts, log: ((line: string) => void) | undefined, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
  const client = await openKafka(connectionConfig(opts, process.env, log));
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** `name=value` pairs of a repeatable (`kind: 'list'`, so already an array of strings) option, in the order given. */
function parsePairs(v: string[] | undefined, flag: string): [string, string][] {
  return (v ?? []).map((s) => {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid ${flag} \`${s}\``, `use name=value, e.g. ${flag} retention.ms=86400000`);
    return [s.slice(0, i), s.slice(i + 1)];
  });
}

function parseConfigs(v: string[] | undefined): Record<string, string> | undefined {
  return v === undefined ? undefined : Object.fromEntries(parsePairs(v, '--config'));
}

/** The changes of `alter-config` from --set and --delete, each config named once. */
function parseAlterations(opts: Opts): ConfigAlteration[] {
  const changes: ConfigAlteration[] = parsePairs(opts.set, '--set').map(([name, value]) => ({ name, op: 'set', value }));
  for (const name of (opts.delete as string[] | undefined) ?? []) {
    if (name.includes('=')) throw new UsageError(`invalid --delete \`${name}\``, `--delete takes a config name only: --delete ${name.slice(0, name.indexOf('='))}`);
    changes.push({ name, op: 'delete' });
  }
  if (changes.length === 0) {
    throw new UsageError('`topics alter-config` needs --set or --delete', 'e.g. kstream topics alter-config clicks --set retention.ms=86400000 --delete cleanup.policy');
  }
  const seen = new Set<string>();
  for (const c of changes) {
    if (seen.has(c.name)) throw new UsageError(`config \`${c.name}\` is given more than once`, 'set or delete each config once');
    seen.add(c.name);
  }
  return changes;
}

/** A config's value as `alter-config` shows it: `(default)` marks one not set on the topic itself. */
function shown(e: ConfigEntry | undefined): string {
  if (!e) return '(unset)';
  return `${e.isSensitive ? '(sensitive)' : e.value ?? '(none)'}${e.fromTopic ? '' : ' (default)'}`;
}

/** Which options belong to which action: given with another one, they would be silently ignored. */
const ONLY: [string, string, string[]][] = [
  ['set', '--set', ['alter-config']],
  ['delete', '--delete', ['alter-config']],
  ['count', '--count', ['add-partitions']],
  ['dryRun', '--dry-run', ['alter-config', 'add-partitions']],
  ['config', '--config', ['create']],
  ['partitions', '--partitions', ['create']],
  ['replicationFactor', '--replication-factor', ['create']],
];

const ACTIONS = ['list', 'describe', 'create', 'delete', 'alter-config', 'add-partitions'];

const topics: CommandSpec = {
  name: 'topics',
  args: '[action] [topic...]',
  summary: 'List, describe (partitions, leaders, offsets, configs), create and delete topics; change configs, add partitions',
  examples: [
    'kstream topics',
    'kstream topics describe clicks',
    'kstream topics create clicks --partitions 6 --config retention.ms=86400000',
    'kstream topics delete clicks-tmp',
    'kstream topics alter-config clicks --set retention.ms=86400000 --delete cleanup.policy',
    'kstream topics add-partitions clicks --count 12',
    'kstream topics list --json',
  ],
  actions: ACTIONS,
  options: [
    { flags: '--partitions <n>', kind: 'int', description: 'create: number of partitions (default: the broker\'s default)' },
    { flags: '--replication-factor <n>', kind: 'int', description: 'create: replicas per partition (default: the broker\'s default)' },
    { flags: '--config <name=value>', kind: 'list', description: 'create: a topic config (repeatable)' },
    { flags: '--set <name=value>', kind: 'list', description: 'alter-config: set this config on the topic, the others untouched (repeatable)' },
    { flags: '--delete <name>', kind: 'list', description: 'alter-config: remove this config from the topic, back to the broker\'s default (repeatable)' },
    { flags: '--count <n>', kind: 'int', description: 'add-partitions: the new TOTAL number of partitions, more than now (as kafka-topics.sh --alter --partitions)' },
    { flags: '--dry-run', description: 'alter-config, add-partitions: the broker checks the change and writes nothing' },
    { flags: '--all', description: 'list: include internal topics (__consumer_offsets, …); describe: all configs, not only the changed ones' },
    { flags: '--json', description: 'Machine-readable output' },
    ...CONNECTION_OPTIONS,
  ],
  async run(args, opts, ctx) {
    const action = args.length === 0 ? 'list' : args[0];
    if (!ACTIONS.includes(action)) {
      throw new UsageError(`unknown topics action \`${action}\``, `use ${ACTIONS.join(', ')}, e.g. kstream topics describe <topic>`);
    }
    const names = args.slice(1);
    const c = paint(colorLevel(process.stdout));
    const log = kafkaLog(opts, ctx);
    if (action !== 'list' && names.length === 0) {
      throw new UsageError(`\`topics ${action}\` needs a topic`, `kstream topics ${action} <topic>`);
    }
    for (const [key, flag, actions] of ONLY) {
      if (opts[key] !== undefined && !actions.includes(action)) {
        const instead = action === 'add-partitions' && key === 'partitions' ? 'use --count <n>, the new total'
          : action === 'alter-config' && key === 'config' ? 'use --set name=value'
            : `it is for \`topics ${actions.join('`, `topics ')}\`; see kstream topics --help`;
        throw new UsageError(`${flag} does not apply to \`topics ${action}\``, instead);
      }
    }
    if ((action === 'alter-config' || action === 'add-partitions') && names.length > 1) {
      throw new UsageError(`\`topics ${action}\` takes one topic (got ${names.length})`, `run it once per topic: kstream topics ${action} ${names[0]} …`);
    }
    const changes = action === 'alter-config' ? parseAlterations(opts) : [];
    if (action === 'add-partitions' && opts.count === undefined) {
      throw new UsageError('`topics add-partitions` needs --count', `give the new total, e.g. kstream topics add-partitions ${names[0]} --count 12`);
    }
    return withClient(opts, log, async (client) => {
      if (action === 'list') {
        const all = await client.topics();
        const shown = all.filter((t) => opts.all || !t.topic.startsWith('__'));
        const rows = await Promise.all(shown.map(async (t) => {
          const offs = await client.offsets(t.topic);
          const records = offs.reduce((n, o) => n + (o.end - o.start), 0);
          return { topic: t.topic, partitions: t.partitions.length, replicas: t.partitions[0]?.replicas.length ?? 0, records };
        }));
        if (opts.json) printJson(rows);
        else printTable(['topic', 'partitions', 'replicas', 'records'], rows.map((r) => [r.topic, r.partitions, r.replicas, r.records]), c, 'no topics');
        return 0;
      }
      if (action === 'describe') {
        const metas = await client.topics(names);
        const out = [];
        for (const m of metas) {
          const offs = new Map((await client.offsets(m.topic)).map((o) => [o.partition, o]));
          const configs = (await client.topicConfigs(m.topic)).filter((e) => opts.all || !e.isDefault);
          out.push({
            topic: m.topic,
            partitions: m.partitions.map((p) => {
              const o = offs.get(p.partition);
              return { partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr, start: o?.start ?? 0, end: o?.end ?? 0, records: (o?.end ?? 0) - (o?.start ?? 0) };
            }),
            configs: Object.fromEntries(configs.map((e) => [e.name, e.value])),
          });
        }
        if (opts.json) printJson(names.length === 1 ? out[0] : out);
        else {
          for (const t of out) {
            process.stdout.write(`${c.bold(t.topic)}: ${t.partitions.length} partitions\n`);
            printTable(['partition', 'leader', 'replicas', 'isr', 'start', 'end', 'records'],
              t.partitions.map((p) => [p.partition, p.leader, p.replicas.join(','), p.isr.join(','), p.start, p.end, p.records]), c, '');
            const cfg = Object.entries(t.configs);
            if (cfg.length) printTable(['config', 'value'], cfg.map(([k, v]) => [k, v ?? '(sensitive)']), c, '');
            else process.stdout.write(opts.all ? 'no configs\n' : 'configs: all defaults (--all shows them)\n');
          }
        }
        return 0;
      }
      if (action === 'create') {
        const partitions = opts.partitions !== undefined ? parseCount(opts.partitions, '--partitions') : undefined;
        const rf = opts.replicationFactor !== undefined ? parseCount(opts.replicationFactor, '--replication-factor') : undefined;
        if (partitions !== undefined && partitions < 1) throw new UsageError(`invalid --partitions \`${opts.partitions}\``, 'use at least 1');
        for (const name of names) {
          if (await client.topicExists(name)) throw new UsageError(`topic \`${name}\` already exists`, `see it with \`kstream topics describe ${name}\``);
          await client.createTopic(name, { partitions, replicationFactor: rf, configs: parseConfigs(opts.config) });
          if (!opts.quiet) ctx.log(`kstream: created topic \`${name}\``);
        }
        if (opts.json) printJson({ created: names });
        return 0;
      }
      if (action === 'alter-config') {
        const topic = names[0];
        const dryRun = !!opts.dryRun;
        const before = new Map((await client.topicConfigs(topic)).map((e) => [e.name, e]));
        const entries = await client.alterTopicConfigs(topic, changes, dryRun);
        const after = entries && new Map(entries.map((e) => [e.name, e]));
        const rows = changes.map((ch) => {
          const old = before.get(ch.name);
          const now = after?.get(ch.name);
          // a dry run has no new value to read: what was asked for (a deleted config's default is not known yet)
          const next = now ? shown(now) : ch.op === 'set' ? ch.value! : '(default)';
          const changed = ch.op === 'delete' ? old === undefined || old.fromTopic : !(old?.fromTopic && sameConfigValue(old.value, ch.value));
          return { ...ch, old, now, next, changed };
        });
        if (opts.json) {
          printJson({
            topic,
            dryRun,
            changes: rows.map((r) => ({
              name: r.name,
              op: r.op,
              before: r.old?.value ?? null,
              beforeIsDefault: r.old ? !r.old.fromTopic : null,
              after: r.now ? r.now.value : r.value ?? null,
              afterIsDefault: r.now ? !r.now.fromTopic : r.op === 'delete',
              changed: r.changed,
            })),
          });
        } else {
          for (const r of rows) process.stdout.write(r.changed ? `${r.name}: ${shown(r.old)} → ${r.next}\n` : `${r.name}: ${shown(r.old)}, unchanged\n`);
        }
        if (dryRun && !opts.quiet) ctx.log('kstream: dry run: nothing written');
        return 0;
      }
      if (action === 'add-partitions') {
        const topic = names[0];
        const count: number = opts.count;
        const [meta] = await client.topics([topic]);
        const current = meta.partitions.length;
        if (count <= current) {
          throw new UsageError(`--count ${count} is not more than the ${current} partition${current === 1 ? '' : 's'} \`${topic}\` has`,
            `partitions can only be added: give the new total, more than ${current} (e.g. --count ${current + 1})`);
        }
        await client.createPartitions(topic, count, !!opts.dryRun);
        if (opts.json) printJson({ topic, dryRun: !!opts.dryRun, before: current, after: count });
        else process.stdout.write(`${topic}: ${current} → ${count} partitions\n`);
        if (!opts.quiet) {
          ctx.log('kstream: warning: adding partitions moves keys: a new record with a key may go to another partition than the earlier records with that key, so per-key order holds only among records written after the change');
          if (opts.dryRun) ctx.log('kstream: dry run: nothing written');
        }
        return 0;
      }
      await client.deleteTopics(names);
      if (!opts.quiet) ctx.log(`kstream: deleted ${names.map((n) => `\`${n}\``).join(', ')}`);
      if (opts.json) printJson({ deleted: names });
      return 0;
    });
  },
};

export default topics;
