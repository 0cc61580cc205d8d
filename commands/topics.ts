import process from 'node:process';
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import type { CommandSpec, Opts } from '../src/pipeline/command.js';
import { UsageError } from '../src/pipeline/errors.js';
import { CONNECTION_OPTIONS, connectionConfig } from '../src/kafka/config.js';
import type { KafkaClient } from '../src/kafka/types.js';
import { openKafka } from '../src/kafka/client/open.js';
import { colorLevel, group, paint } from '../src/report/table.js';
import { parseCount } from '../src/time/duration.js';
import { kafkaLog } from './consume.js';

/** A plain table of rows on stdout (numbers right-aligned), or nothing for no rows. */
export function printTable(head: string[], rows: (string | number)[][], c: ChalkInstance, empty: string): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const numeric = head.map((_, i) => rows.every((r) => typeof r[i] === 'number' || r[i] === '-'));
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    colAligns: numeric.map((n) => (n ? 'right' : 'left')),
    style: { head: [], border: [], compact: true },
  });
  for (const r of rows) t.push(r.map((v) => (typeof v === 'number' ? group(v) : v)));
  process.stdout.write(t.toString() + '\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

export async function withClient<T>(opts: Opts, log: ((line: string) => void) | undefined, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
  const client = await openKafka(connectionConfig(opts, process.env, log));
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

function parseConfigs(v: unknown): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const x of Array.isArray(v) ? v : [v]) {
    const s = String(x);
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`invalid --config \`${s}\``, 'use name=value, e.g. --config retention.ms=86400000');
    out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

const ACTIONS = ['list', 'describe', 'create', 'delete'];

const topics: CommandSpec = {
  name: 'topics',
  args: '[action] [topic...]',
  summary: 'List, describe (partitions, leaders, offsets, configs), create and delete topics',
  examples: [
    'kstream topics',
    'kstream topics describe clicks',
    'kstream topics create clicks --partitions 6 --config retention.ms=86400000',
    'kstream topics delete clicks-tmp',
    'kstream topics list --json',
  ],
  actions: ACTIONS,
  options: [
    { flags: '--partitions <n>', kind: 'int', description: 'create: number of partitions (default: the broker\'s default)' },
    { flags: '--replication-factor <n>', kind: 'int', description: 'create: replicas per partition (default: the broker\'s default)' },
    { flags: '--config <name=value>', kind: 'list', description: 'create: a topic config (repeatable)' },
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
    if ((action === 'describe' || action === 'create' || action === 'delete') && names.length === 0) {
      throw new UsageError(`\`topics ${action}\` needs a topic`, `kstream topics ${action} <topic>`);
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
      await client.deleteTopics(names);
      if (!opts.quiet) ctx.log(`kstream: deleted ${names.map((n) => `\`${n}\``).join(', ')}`);
      if (opts.json) printJson({ deleted: names });
      return 0;
    });
  },
};

export default topics;
