/**
 * `consume` as a pipeline Source: one batch of records per fetch response.
 *
 * Values are decoded the way the NDJSON decoder does it, through the same FieldScanner, so stages still parse only
 * the fields they read: text that is JSON becomes the value (its text kept in `raw`, forwarded byte for byte);
 * other text becomes a string; bytes that are not UTF-8 become a base64 string (counted); null stays null.
 *
 * Offsets are committed (with --group) in `ack`, which the runner calls only after the sink acknowledged every
 * record derived from the batch: the highest offset + 1 per partition in it (at-least-once).
 */
import { Rec, type InputGroup, type SourceRef, type Stored } from '../../pipeline/record.js';
import type { FieldNeeds, PartMetrics, Source, SourcePosition, StateBackend } from '../../pipeline/stage.js';
import bufferModule, { Buffer } from 'node:buffer';
import { chunkBytes, chunkIsPlain, FieldScanner, type ChunkBytes } from '../../codec/scan.js';
import { tpKey, type PartitionProgress, type TopicMeta, type RawHeader, type RecordColumns, type FetchedPartition, type Isolation, type KafkaClient, type KafkaConsumer, type TopicPartition, type TopicPartitionOffset } from '../types.js';
import { openKafka } from '../client/open.js';
import type { KafkaConfig } from '../config.js';
import { resolveOffset, specFor, type OffsetPlan, type PartitionBounds } from '../offsets.js';
import { envelopeLine, headersJson, startsJson, textRec, utf8Text, valueJson } from '../../io/envelope.js';
import { kafkaError, MissingTopic } from '../errors.js';
import { RuntimeError, UsageError } from '../../pipeline/errors.js';
import { ExactlyOnce } from './exactly-once.js';
import { UPSTREAM_HEADER } from './sink.js';
import type { KafkaRun } from './run.js';

export type ConsumeFormat = 'value' | 'envelope' | 'raw';

const isAscii: ((b: Uint8Array) => boolean) | undefined = (bufferModule as { isAscii?: (b: Uint8Array) => boolean }).isAscii;

export interface KafkaSourceOptions {
  topics: string[];
  /** --regex (as typed, and compiled to match whole names): also every matching topic, as found at start (internal `__` topics never). */
  regex?: { text: string; pattern: RegExp };
  partitions?: number[];
  group?: string;
  /** Static membership id (--instance-id). */
  instanceId?: string;
  offsets: OffsetPlan;
  /** Stop at the end offsets seen at start. */
  exit: boolean;
  /** Stop after this many records. */
  count?: number;
  format: ConsumeFormat;
  isolation: Isolation;
  maxWaitMs?: number;
  /** Most bytes per fetch response (and per partition in it): the size of a batch, and so of a commit step. */
  fetchMaxBytes?: number;
  /** --exactly-once: transactional ids `<prefix>-<topic>-<partition>` (needs a group and a Kafka sink in the process). */
  exactlyOnce?: { prefix: string };
  /** --offset as given on the command line (absent: the default), and where to say that a group's commits win over it. */
  offsetGiven?: string;
  notice?: (line: string) => void;
  /** --quiet: no informational lines (the topics a --regex matched); warnings still come. */
  quiet?: boolean;
  /**
   * A repartition topic (kafka/connect/repartition.ts): each record names in a header the input partition it came
   * from, one of this many upstream tasks. The header is taken off, and inside each task stream time is kept per
   * upstream task, as it is per partition of a topic read directly (docs/semantics.md).
   */
  upstreams?: number;
}

/** A --regex as a whole-name pattern; a pattern JavaScript cannot compile is a usage error naming it. */
export function topicPattern(text: string): RegExp {
  try {
    return new RegExp(`^(?:${text})$`);
  } catch (e) {
    throw new UsageError(`invalid --regex \`${text}\`: ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`, 'use a JavaScript regular expression, e.g. --regex \'clicks-.*\'');
  }
}

/** Where a fetched partition's records end once handed out, and the last one's timestamp (consumer lag). */
interface Handed {
  key: string;
  next: number;
  ts: number | undefined;
}

function handedOf(fp: FetchedPartition, next: number, out: Rec[], before: number): Handed {
  return { key: tpKey(fp.topic, fp.partition), next, ts: out.length > before ? out[out.length - 1].ts : undefined };
}

/** Names a record's origin (`clicks/3@1042`) and carries what offset commits need. */
class PartitionRef implements SourceRef {
  readonly name: string;
  readonly topicJson: string;
  constructor(readonly topic: string, readonly partition: number, readonly group: Assignment) {
    this.name = `${topic}/${partition}`;
    this.topicJson = JSON.stringify(topic);
  }
  where(pos: number): string {
    return `${this.name}@${pos}`;
  }
}

/** A repartition topic's record: its partition (the task) and the upstream task it was written by. */
class UpstreamRef implements SourceRef {
  readonly name: string;
  constructor(readonly topic: string, readonly partition: number, readonly upstream: number, readonly group: InputGroup) {
    this.name = `${topic}/${partition}`;
  }
  where(pos: number): string {
    return `${this.name}@${pos}`;
  }
}

/** An upstream task heard from within this long counts as one with records still to come (not idle). */
const UPSTREAM_QUIET_MS = 1000;

/**
 * The upstream tasks writing one partition of a repartition topic, known from the start (the input's partitions),
 * so one not heard from yet holds stream time back until it has been quiet for the idle timeout. Whether one has
 * records still to come cannot be seen from here (another process may be writing them): one heard from within the
 * last second counts as having more, and one quiet longer starts the idle timeout.
 */
class Upstreams implements InputGroup {
  readonly members: UpstreamRef[];
  /** Wall time each upstream's records last arrived (set once per batch). */
  readonly seen: number[];
  constructor(topic: string, partition: number, count: number) {
    this.members = Array.from({ length: count }, (_, u) => new UpstreamRef(topic, partition, u, this));
    this.seen = new Array<number>(count).fill(-Infinity);
  }
  waiting(ref: SourceRef): boolean {
    return Date.now() - (this.seen[(ref as UpstreamRef).upstream] ?? -Infinity) < UPSTREAM_QUIET_MS;
  }
  ref(u: number): UpstreamRef {
    if (!this.members[u]) {
      this.members[u] = new UpstreamRef(this.members[0]?.topic ?? '', this.members[0]?.partition ?? 0, u, this);
      this.seen[u] = -Infinity;
    }
    return this.members[u];
  }
}

/** A header value of decimal digits as a number, without a string in between; -1 when it is not one. */
function digits(b: Buffer | null): number {
  if (!b || b.length === 0 || b.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Each record's upstream task, by offset from `base` (a fetch's offsets, markers and gaps included). */
export interface UpstreamsByOffset {
  base: number;
  of: Uint16Array;
}

/**
 * Takes the upstream header off a repartition topic's fetched records (before they are made, so neither their
 * headers nor the bytes a sink copies show it); returns each record's upstream task by offset (0 without one).
 * One array per fetch, indexed by offset: no map entry per record.
 */
export function takeUpstreams(fp: FetchedPartition): UpstreamsByOffset {
  const bs = fp.batches.filter((c) => c.count > 0);
  const base = bs.length ? bs[0].offsets[0] : 0;
  const last = bs.length ? bs[bs.length - 1].offsets[bs[bs.length - 1].count - 1] : -1;
  const of = new Uint16Array(Math.max(0, last - base + 1));
  for (const cols of bs) {
    const hs = cols.headers;
    if (!hs) continue;
    for (let i = 0; i < cols.count; i++) {
      const h = hs[i];
      if (!h) continue;
      // (the writer adds it last)
      const at = h[h.length - 1].key === UPSTREAM_HEADER ? h.length - 1 : h.findIndex((x) => x.key === UPSTREAM_HEADER);
      if (at < 0) continue;
      const u = digits(h[at].value);
      if (u >= 0) of[cols.offsets[i] - base] = u;
      if (h.length === 1) hs[i] = undefined;
      else h.splice(at, 1);
    }
  }
  return { base, of };
}

/**
 * The partitions the consumer is assigned, as refs, and which of them have records the pipeline has not taken (not
 * fetched yet, or fetched and queued): what stream time waits for (pipeline/record.ts InputGroup). Read from the
 * source when first asked after a batch was handed out — a run without a window stage never asks.
 */
class Assignment implements InputGroup {
  private stale = true;
  private list: readonly PartitionRef[] = [];
  private behind = new Set<SourceRef>();

  constructor(private readonly read: () => { members: PartitionRef[]; behind: Set<SourceRef> }) {}

  /** A batch is about to be handed out: what the source knows may have moved. */
  invalidate(): void {
    this.stale = true;
  }

  get members(): readonly PartitionRef[] {
    if (this.stale) this.load();
    return this.list;
  }

  waiting(ref: SourceRef): boolean {
    if (this.stale) this.load();
    return this.behind.has(ref);
  }

  private load(): void {
    this.stale = false;
    const { members, behind } = this.read();
    this.list = members;
    this.behind = behind;
  }
}

export class KafkaSource implements Source {
  readonly name = 'consume';
  /** Values and raw values come with their key, timestamp and headers; an envelope is a new document that carries them inside. */
  readonly carries: { key: boolean; ts: boolean; headers: boolean; what?: string; partitions: boolean };
  readonly rawOutput: boolean;
  readonly envelopes: boolean;
  /** Under --exactly-once each batch is a transaction, acknowledged before the next is handed out. */
  readonly ackEachBatch: boolean = false;
  /** The notice that the group's commits overrule --offset was given. */
  private overruled = false;
  /**
   * Under --exactly-once state is restored once the input partitions' transactional ids are taken: a transaction
   * a killed run had already committed (markers still being written) is then settled, so the state read matches
   * the committed offsets read next.
   */
  readonly restoresState: boolean = false;
  private restored = false;
  /** The group's state changelog (set by the consume command); its restored positions move the start forward. */
  state?: StateBackend;
  /** The fields downstream stages read; set by the runner before batches() starts. */
  plan: FieldNeeds = 'all';
  private client: KafkaClient | undefined;
  private consumer: KafkaConsumer | undefined;
  private readonly refs = new Map<string, PartitionRef>();
  private readonly assignment = new Assignment(() => this.inputState());
  private readonly commits = new WeakMap<Rec[], TopicPartitionOffset[]>();
  private emitted = 0;
  private binary = 0;
  private closed = false;

  /** The transactions of an --exactly-once run; the Kafka sink finds them in the run's KafkaRun. */
  private readonly eos: ExactlyOnce | undefined;
  /** Under --exactly-once: resolves when the batch handed out last was acknowledged (its transaction committed). */
  private acked: Promise<void> = Promise.resolve();
  private ackedNow: () => void = () => {};

  constructor(readonly cfg: KafkaConfig, private readonly opts: KafkaSourceOptions, private readonly run: KafkaRun) {
    this.rawOutput = opts.format === 'raw';
    this.envelopes = opts.format === 'envelope';
    const whole = !this.envelopes;
    this.carries = { key: whole, ts: whole, headers: whole, what: whole ? undefined : 'envelope records of `consume --format envelope`', partitions: true };
    run.useConfig(cfg);
    if (opts.exactlyOnce && opts.group) {
      this.eos = run.eos = new ExactlyOnce({ group: opts.group, prefix: opts.exactlyOnce.prefix });
      this.ackEachBatch = true;
      this.restoresState = true;
      this.ack = (batch) => this.commitInTransaction(batch);
    } else {
      this.ack = opts.group ? (batch) => this.commitBatch(batch) : undefined;
    }
  }

  /** --exactly-once: each batch a transaction with its input offsets. */
  get exactlyOnce(): boolean {
    return this.eos !== undefined;
  }

  /** --no-repartition (or a repartition topic): the input is partitioned by the key the state groups by. */
  keyedAsIs = false;

  /** Records of a repartition topic: stream time per upstream task inside each task. */
  get upstreamTasks(): boolean {
    return this.opts.upstreams !== undefined;
  }

  private readonly upstreamGroups = new Map<string, Upstreams>();

  /** Reads a repartition topic written by `count` upstream tasks (set before the run starts). */
  useUpstreams(count: number): void {
    this.opts.upstreams = count;
  }

  /** Gives the records of `fp` just made (out[from..]) their upstream task as their source. */
  private upstreamsOf(fp: FetchedPartition, ups: UpstreamsByOffset, out: Rec[], from: number): void {
    const k = tpKey(fp.topic, fp.partition);
    let g = this.upstreamGroups.get(k);
    if (!g) this.upstreamGroups.set(k, (g = new Upstreams(fp.topic, fp.partition, this.opts.upstreams!)));
    const now = Date.now();
    let last = -1;
    for (let i = from; i < out.length; i++) {
      const u = ups.of[out[i].pos - ups.base];
      out[i].src = g.ref(u);
      if (u !== last) g.seen[(last = u)] = now;
    }
  }

  /** The input topic's partitions: what a repartition topic gets (a tasked run reads one topic, named). */
  async inputPartitions(): Promise<number> {
    const client = await openKafka(this.cfg);
    await client.connect();
    try {
      const [meta] = await client.topics(this.opts.topics.slice(0, 1));
      return meta.partitions.length;
    } finally {
      await client.close();
    }
  }

  private endsAt: Map<string, number> | undefined;

  /** From now on, reading ends at the topics' current end offsets (a repartition topic whose writer ended). */
  async finishAtEnd(): Promise<void> {
    const client = this.client ?? (await openKafka(this.cfg));
    if (!this.client) await client.connect();
    const ends = new Map<string, number>();
    try {
      // the high watermark, not the last stable offset: the writer's last commit may still be writing its markers
      for (const t of this.opts.topics) for (const o of await client.offsets(t, 'read_uncommitted')) ends.set(tpKey(t, o.partition), o.end);
    } finally {
      if (client !== this.client) await client.close();
    }
    this.endsAt = ends;
    this.consumer?.stopAt?.(ends);
  }

  /** With a group's changelog the stateful stages run as tasks, one per input partition (pipeline/tasks.ts). */
  get partitionedState(): boolean {
    // one topic: a task is one partition (several topics would need per-partition time inside a task, and the same
    // partition count everywhere, as Kafka Streams' co-partitioning does — not built: their state stays whole)
    return this.state !== undefined && this.opts.topics.length === 1 && this.opts.regex === undefined;
  }

  /** The run's stateful span runs as tasks (set by the runner): rebalances move tasks, not the whole state. */
  private get tasked(): boolean {
    return this.state?.tasks !== undefined;
  }

  private ref(topic: string, partition: number): PartitionRef {
    const k = tpKey(topic, partition);
    let r = this.refs.get(k);
    if (!r) this.refs.set(k, (r = new PartitionRef(topic, partition, this.assignment)));
    return r;
  }

  /**
   * The topics a --regex names, with the ones named outright. Resolved once, at start (as the Java consumer does
   * at its first metadata fetch); a topic created later is read from the next start on. A pattern matches whole
   * names, as Java's `subscribe(Pattern)` does, so `clicks` does not also take `clicks-dead`.
   */
  private async matching(client: KafkaClient, { text: source, pattern }: { text: string; pattern: RegExp }): Promise<TopicMeta[]> {
    // one metadata request for every topic: the matches and the topics named outright are taken from it
    const metas = await client.topics();
    const all = metas.map((m) => m.topic);
    for (const t of this.opts.topics) if (!all.includes(t)) throw new MissingTopic(t);
    // never the topics this run writes (its produce, changelog, dead letters): following them would read its own
    // output back in, for ever
    const own = all.filter((t) => this.run.writes.has(t) && pattern.test(t));
    const found = all.filter((t) => !t.startsWith('__') && !this.run.writes.has(t) && pattern.test(t));
    if (found.length === 0) {
      throw new UsageError(
        `no topic matches --regex \`${source}\` (of the ${all.filter((t) => !t.startsWith('__')).length} on the brokers${own.length ? `, leaving out ${own.join(', ')}, which this run writes` : ''})`,
        'the pattern must match a whole topic name, e.g. --regex \'clicks-.*\'; `kstream topics list` shows them',
      );
    }
    if (!this.opts.quiet) this.opts.notice?.(`kstream: --regex \`${source}\` matches ${found.length} topic${found.length === 1 ? '' : 's'}: ${found.join(', ')}${own.length ? ` (not ${own.join(', ')}, which this run writes)` : ''}`);
    return metas.filter((m) => found.includes(m.topic) || this.opts.topics.includes(m.topic));
  }

  async *batches(): AsyncIterable<Rec[]> {
    const { opts } = this;
    const eos = this.eos;
    if (eos && !eos.sinkAttached) {
      throw new UsageError('--exactly-once needs `produce` in the same process', 'fuse it: consume … --exactly-once + … + produce <topic>; stages joined by pipes are at-least-once');
    }
    const client = (this.client = await openKafka(this.cfg));
    await client.connect();
    eos?.bind(client);
    const metas = opts.regex !== undefined ? await this.matching(client, opts.regex) : await client.topics(opts.topics);
    const topics = metas.map((m) => m.topic);
    const partitionsOf = new Map(metas.map((m) => [m.topic, m.partitions.map((p) => p.partition)]));
    let only = opts.partitions;
    if (!only && opts.offsets.all === undefined && opts.offsets.perPartition.size) only = [...opts.offsets.perPartition.keys()];
    if (only) {
      for (const p of only) {
        if (!topics.some((t) => partitionsOf.get(t)!.includes(p))) {
          const t = topics[0];
          throw new UsageError(`partition ${p} does not exist in \`${t}\` (it has ${partitionsOf.get(t)!.length})`, `use --partition 0..${partitionsOf.get(t)!.length - 1}`);
        }
      }
    }

    let stopAt: Map<string, number> | undefined;
    const bounds = new Map<string, PartitionBounds>();
    const loadBounds = async (topic: string) => {
      const offs = await client.offsets(topic, opts.isolation);
      for (const o of offs) bounds.set(tpKey(topic, o.partition), { start: o.start, end: o.end });
    };
    if (opts.exit) {
      stopAt = new Map();
      for (const t of topics) {
        await loadBounds(t);
        for (const p of partitionsOf.get(t)!) stopAt.set(tpKey(t, p), bounds.get(tpKey(t, p))!.end);
      }
    }

    const start = async (tps: TopicPartition[], committed: Map<string, number> | undefined) => {
      if (committed && !this.tasked) this.refuseShared(tps, partitionsOf, only);
      const out = new Map<string, number>();
      const topics = [...new Set(tps.map((tp) => tp.topic))];
      for (const t of topics) {
        if (!opts.exit) await loadBounds(t);
        const times = new Map<number, Map<number, number>>();
        for (const tp of tps) {
          if (tp.topic !== t) continue;
          const spec = specFor(opts.offsets, tp.partition);
          const key = tpKey(t, tp.partition);
          const b = { ...bounds.get(key)! };
          if (spec.kind === 'time' && committed?.get(key) === undefined) {
            let m = times.get(spec.ts);
            if (!m) times.set(spec.ts, (m = await client.offsetsForTime(t, spec.ts, opts.isolation)));
            b.atTime = m.get(tp.partition);
          }
          const at = resolveOffset(spec, b, committed?.get(key));
          // State already holds records past the committed offset (stopped between checkpoint and commit).
          const saved = this.state?.positions?.get(key);
          let from = saved !== undefined && saved > at ? saved : at;
          // A stateful job's partition coming back after a rebalance (a refused second process took it for a
          // moment): the state in memory holds every record this process took of it, checkpointed or not, and
          // nobody else processed any (a second process is refused before it reads) — so it goes on from there,
          // not from the last commit, which would count the records in between twice.
          // (Tasks: a revoked task's state was dropped and is restored from its checkpoint, with its position.)
          const took = this.state?.keeps?.length && !this.tasked ? this.took.get(key) : undefined;
          if (took !== undefined && took > from) from = took;
          out.set(key, from);
        }
      }
      // an --offset the group's commits overrule is said once, not ignored without a word
      const resumed = committed ? tps.filter((tp) => (committed.get(tpKey(tp.topic, tp.partition)) ?? -1) >= 0).length : 0;
      if (resumed && opts.offsetGiven !== undefined && opts.offsetGiven !== 'stored' && !this.overruled) {
        this.overruled = true;
        opts.notice?.(`kstream: group \`${opts.group}\` resumes at its committed offsets on ${resumed} of ${tps.length} partition${tps.length === 1 ? '' : 's'}; --offset ${opts.offsetGiven} applies only where it has none — to start over, stop its consumers and run \`kstream groups reset ${opts.group} --to start\``);
      }
      return out;
    };

    const consumer = (this.consumer = client.consumer({
      topics,
      partitions: only,
      group: opts.group,
      instanceId: opts.instanceId,
      isolation: opts.isolation,
      start,
      stopAt,
      maxWaitMs: opts.maxWaitMs,
      onAssign: this.tasked
        ? (tps) => this.takeTasks(tps, partitionsOf.get(topics[0])!.length)
        : eos
          ? (tps) => this.fenceThenRestore(this.refuseShared(tps, partitionsOf, only))
          : undefined,
      rebalance: eos || this.tasked ? { before: () => this.pauseForRebalance(), after: (revoked) => this.resumeAfterRebalance(revoked) } : undefined,
      stableOffsets: !!eos,
      maxBytes: opts.fetchMaxBytes,
      maxPartitionBytes: opts.fetchMaxBytes === undefined ? undefined : Math.min(opts.fetchMaxBytes, 4 * 1024 * 1024),
    }));
    if (this.endsAt) consumer.stopAt?.(this.endsAt);
    const maker = new RecordMaker(opts.format, this.plan);
    const limit = opts.count ?? Infinity;
    if (limit <= 0) return;
    if (eos) {
      yield* this.transactionalBatches(consumer, maker, limit);
      return;
    }
    const tasked = this.tasked;
    for await (const resp of consumer.batches()) {
      if (tasked) {
        // tasks change hands only between batches: none is handed out while the group rebalances, and records
        // fetched for a partition revoked meanwhile are its new owner's to process
        while (this.rebalancing && !this.closed) await this.rebalancing;
        if (this.closed) return;
      }
      this.assignment.invalidate();
      const out: Rec[] = [];
      const commits: TopicPartitionOffset[] = [];
      const handed: Handed[] = [];
      for (const fp of resp) {
        if (tasked && !consumer.owns(fp)) continue;
        const ref = this.ref(fp.topic, fp.partition);
        const before = out.length;
        const ups = opts.upstreams !== undefined ? takeUpstreams(fp) : undefined;
        const last = maker.make(fp, ref, out, limit - this.emitted - out.length);
        if (ups) this.upstreamsOf(fp, ups, out, before);
        if (last >= 0) commits.push({ topic: fp.topic, partition: fp.partition, offset: last + 1 });
        const cut = this.emitted + out.length >= limit;
        handed.push(handedOf(fp, cut ? last + 1 : fp.nextOffset, out, before));
        if (cut) break;
      }
      this.binary = maker.binary;
      if (out.length === 0) {
        this.handedOut(handed);
        continue;
      }
      this.emitted += out.length;
      this.commits.set(out, commits);
      yield out;
      // the pipeline took the batch (the runner asks for the next one as it starts on this one)
      this.handedOut(handed);
      if (this.emitted >= limit || this.closed) return;
    }
  }

  /**
   * Under --exactly-once: one batch per partition of a fetch (one transaction each), handed out only after the
   * previous batch's transaction committed, with the batch's transaction opened first.
   */
  private async *transactionalBatches(consumer: KafkaConsumer, maker: RecordMaker, limit: number): AsyncIterable<Rec[]> {
    const eos = this.eos!;
    for await (const resp of consumer.batches()) {
      this.assignment.invalidate();
      for (const fp of resp) {
        await this.acked;
        while (this.rebalancing && !this.closed) await this.rebalancing;
        if (this.closed) return;
        // fetched under an ownership that ended (a rebalance while this response was handed out): not ours to process
        if (!consumer.owns(fp)) continue;
        const out: Rec[] = [];
        const ups = this.opts.upstreams !== undefined ? takeUpstreams(fp) : undefined;
        const last = maker.make(fp, this.ref(fp.topic, fp.partition), out, limit - this.emitted);
        if (ups) this.upstreamsOf(fp, ups, out, 0);
        const handed = [handedOf(fp, this.emitted + out.length >= limit ? last + 1 : fp.nextOffset, out, 0)];
        this.binary = maker.binary;
        if (out.length === 0) {
          this.handedOut(handed);
          continue;
        }
        this.acked = new Promise((r) => (this.ackedNow = r));
        await eos.begin(fp.topic, fp.partition);
        this.emitted += out.length;
        this.commits.set(out, [{ topic: fp.topic, partition: fp.partition, offset: last + 1 }]);
        yield out;
        this.handedOut(handed);
        if (this.emitted >= limit) {
          await this.acked;
          return;
        }
      }
    }
  }

  private sharedChecked = false;

  /**
   * A stateful job whose state is kept whole (not as tasks: its stages group by different keys, or read a side
   * input) joins its group alone. Its changelog is one per group, restored whole, and holds operator-wide
   * entries (stream time, watermark, open windows): a second process would restore the first one's state and write
   * over it, double counting without a word. So a process whose first assignment leaves partitions of its input to
   * other members stops here, before it read or fenced anything, with what to do. (One that runs already and
   * loses partitions to such a newcomer goes on: it still holds all the state.)
   */
  private refuseShared(tps: TopicPartition[], partitionsOf: Map<string, number[]>, only: number[] | undefined): TopicPartition[] {
    const stages = this.state?.keeps;
    if (this.sharedChecked || !stages?.length) return tps;
    this.sharedChecked = true;
    let all = 0;
    for (const ps of partitionsOf.values()) all += ps.filter((p) => !only || only.includes(p)).length;
    if (tps.length >= all) return tps;
    throw new RuntimeError(
      `group \`${this.opts.group}\` has another member, which holds ${all - tps.length} of the ${all} input partitions: the state of ${stages.map((s) => `\`${s}\``).join(', ')} is kept whole per group — its stages group by different keys or read a side input, so no one partitioning splits it — and such a job runs as one process per group`,
      'stop the other process first (a killed one leaves the group after its session timeout), or give this one its own --group',
    );
  }

  /** Under --exactly-once, while the group rebalances: no batch is handed out (resolves when it may be again). */
  private rebalancing: Promise<void> | undefined;
  private rebalanced: () => void = () => {};

  /**
   * Before this member rejoins the group: the batch in flight commits its transaction, and no other one opens
   * until the assignment is known — so no partition changes hands with a transaction open, and its next owner's
   * fencing of the transactional id meets no live producer (the classic eager protocol of Kafka Streams).
   */
  private async pauseForRebalance(): Promise<void> {
    if (!this.rebalancing) this.rebalancing = new Promise((r) => (this.rebalanced = r));
    await this.acked;
    // tasks: what was processed is checkpointed and committed before a partition may go to another member, so
    // its next owner restores it where this one stopped (at-least-once; under --exactly-once each batch did so)
    if (this.tasked && !this.eos) await this.state!.checkpointNow?.();
    if (this.tasked) this.state!.freeze?.();
  }

  private resumeAfterRebalance(revoked: TopicPartition[]): void {
    // their transactional ids are the new owners' to take: this member must never write with them again
    this.eos?.release(revoked);
    if (this.tasked) {
      this.dropTasks(revoked);
      this.state!.thaw?.();
    }
    this.rebalancing = undefined;
    this.rebalanced();
  }

  /**
   * Tasks: partitions assigned to this member. Their transactional ids are taken first under --exactly-once
   * (settling what a previous owner left open), then their tasks are restored from the changelog partitions of the
   * same numbers — before their committed offsets are read, so the `$pos` entries restored move the start on.
   */
  private async takeTasks(tps: TopicPartition[], partitions: number): Promise<void> {
    if (this.eos) await this.eos.prepare(tps);
    const state = this.state!;
    await state.restoreTasks!(tps.map((tp) => tp.partition), partitions);
  }

  /** Tasks of revoked partitions (a tasked run reads one topic: a task is a partition). */
  private dropTasks(revoked: TopicPartition[]): void {
    if (revoked.length) this.state!.dropTasks?.(revoked.map((tp) => tp.partition));
  }

  private async fenceThenRestore(tps: TopicPartition[]): Promise<void> {
    await this.eos!.prepare(tps);
    const state = this.state;
    if (this.restored || !state?.deferredTo) return;
    this.restored = true;
    await state.restore(state.deferredTo);
  }

  /**
   * Per partition, where the records handed to the pipeline end (`next`: the offset after them, past control
   * records) and the timestamp of the last one: the consumer lag --metrics shows. Once per partition and fetch.
   */
  private readonly handed = new Map<string, { next: number; ts: number | undefined }>();

  /** The offset up to which the pipeline has taken a partition's records: what it was handed, or where fetching stands. */
  private taken(p: PartitionProgress): number {
    const h = this.handed.get(tpKey(p.topic, p.partition));
    // records fetched but still queued are not handed out yet; a position moved back (a rebalance) is read again
    return h ? Math.min(h.next, p.fetched) : p.fetched;
  }

  /**
   * The assignment as stream time sees it, and which partitions still have records the pipeline has not taken — a
   * partition with none is idle once that has lasted --idle-timeout. Judged by the source, not by when a stage last
   * saw a record: a stalled pipeline does not make partitions with a backlog idle.
   */
  private inputState(): { members: PartitionRef[]; behind: Set<SourceRef> } {
    const members: PartitionRef[] = [];
    const behind = new Set<SourceRef>();
    for (const p of this.consumer?.progress?.() ?? []) {
      const ref = this.ref(p.topic, p.partition);
      members.push(ref);
      if (p.end === undefined || p.end > this.taken(p)) behind.add(ref);
    }
    return { members, behind };
  }

  /** Per partition, the offset after the last record this process handed to the pipeline (kept across rebalances). */
  private readonly took = new Map<string, number>();

  private handedOut(handed: Handed[]): void {
    for (const h of handed) {
      if (h.next < 0) continue;
      if (h.next > (this.took.get(h.key) ?? -1)) this.took.set(h.key, h.next);
      const prev = this.handed.get(h.key);
      if (prev && prev.next >= h.next) continue;
      this.handed.set(h.key, { next: h.next, ts: h.ts ?? prev?.ts });
    }
  }

  metrics(): PartMetrics {
    const c = this.consumer;
    const lag: NonNullable<PartMetrics['lag']> = [];
    const now = Date.now();
    const assigned = new Set<string>();
    for (const p of c?.progress?.() ?? []) {
      const k = tpKey(p.topic, p.partition);
      assigned.add(k);
      if (p.end === undefined) continue;
      const records = Math.max(0, p.end - this.taken(p));
      const ts = this.handed.get(k)?.ts;
      const seconds = records === 0 ? 0 : ts !== undefined ? Math.max(0, now - ts) / 1000 : undefined;
      lag.push({ topic: p.topic, partition: p.partition, records, seconds });
    }
    // partitions the group took away are no one's lag here
    for (const k of this.handed.keys()) if (!assigned.has(k)) this.handed.delete(k);
    return { lag, reconnects: this.client?.reconnects?.() ?? 0, restore: this.state?.keeps?.length ? this.state.progress?.() : undefined };
  }

  positions(batch: Rec[]): SourcePosition[] {
    return this.commits.get(batch) ?? [];
  }

  /** Under --exactly-once: a tick's held output and state, committed (not while a rebalance is under way). */
  async commitTick(): Promise<void> {
    if (!this.eos || this.rebalancing) return;
    await this.run.flushLetters();
    await this.eos.flushTick();
  }

  private async commitInTransaction(batch: Rec[]): Promise<void> {
    // dead letters of the batch join its transaction
    await this.run.flushLetters();
    await this.eos!.commit(this.commits.get(batch) ?? []);
    this.ackedNow();
  }

  /**
   * Only in group mode: without a group there is nothing to commit, and a source without `ack` lets the runner
   * pipeline a Kafka sink's writes.
   */
  readonly ack: ((batch: Rec[]) => Promise<void> | void) | undefined;

  private async commitBatch(batch: Rec[]): Promise<void> {
    const offsets = this.commits.get(batch);
    if (!offsets?.length || !this.consumer) return;
    // a bad record's offset is committed only once its dead letter is acknowledged
    await this.run.flushLetters();
    await this.consumer.commit(offsets);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ackedNow();
    this.rebalancing = undefined;
    this.rebalanced();
    // a transaction still open here belongs to a failed run: abort it rather than leave it to time out
    await this.eos?.abort();
    try {
      await this.consumer?.close();
    } catch (e) {
      throw kafkaError(e, { cfg: this.cfg, group: this.opts.group });
    } finally {
      await this.client?.close();
    }
  }

  counters(): Record<string, number> {
    return this.binary ? { 'binary-as-base64': this.binary } : {};
  }
}

/** The stored bytes of one decoded record batch, for sinks that write records as they were (Rec.stored). */
class ColumnsStored implements Stored {
  constructor(private readonly cols: RecordColumns, private readonly ref: PartitionRef) {}
  key(i: number): Buffer | null {
    const s = this.cols.keyStart[i];
    return s < 0 ? null : this.cols.buf.subarray(s, this.cols.keyEnd[i]);
  }
  value(i: number): Buffer | null {
    const s = this.cols.valueStart[i];
    return s < 0 ? null : this.cols.buf.subarray(s, this.cols.valueEnd[i]);
  }
  valueSize(i: number): number {
    const s = this.cols.valueStart[i];
    return s < 0 ? 0 : this.cols.valueEnd[i] - s;
  }
  copyValue(i: number, to: Uint8Array, at: number): number {
    const s = this.cols.valueStart[i];
    return s < 0 ? 0 : this.cols.buf.copy(to, at, s, this.cols.valueEnd[i]);
  }
  headers(i: number): RawHeader[] | undefined {
    return this.cols.headers?.[i];
  }
  topic(): string {
    return this.ref.topic;
  }
  partition(): number {
    return this.ref.partition;
  }
  offset(i: number): number {
    return this.cols.offsets[i];
  }
}

/** Turns fetched columns into records for one output format. */
export class RecordMaker {
  binary = 0;
  private readonly scanner: FieldScanner | undefined;

  constructor(private readonly format: ConsumeFormat, plan: FieldNeeds) {
    this.scanner = plan === 'all' ? undefined : new FieldScanner(plan === 'none' ? [] : plan);
    this.viewOnly = plan === 'none';
  }

  private readonly viewOnly: boolean;

  /** Appends up to `room` records of `fp` to `out`; returns the offset of the last one taken, or -1. */
  make(fp: FetchedPartition, ref: PartitionRef, out: Rec[], room: number): number {
    let last = -1;
    for (const cols of fp.batches) {
      const n = Math.min(cols.count, room);
      if (n <= 0) break;
      room -= n;
      const { buf, offsets, timestamps, keyStart, keyEnd, valueStart, valueEnd, headers } = cols;
      const stored = new ColumnsStored(cols, ref);
      const first = out.length;
      // in place while the stream has a learned shape; a batch decoded whole otherwise (it teaches the shape)
      const spans = this.format !== 'value' ? false : this.viewOnly && this.scanner!.matching ? this.storedValues(cols, n, ref, stored, out) : this.valueSpans(cols, n, ref, out);
      for (let i = 0; i < n; i++) {
        const ks = keyStart[i];
        let key: string | null = null;
        let keyB64 = false;
        if (ks >= 0) {
          const t = utf8Text(buf, ks, keyEnd[i]);
          if (t !== undefined) key = t;
          else {
            key = buf.toString('base64', ks, keyEnd[i]);
            keyB64 = true;
            this.binary++;
          }
        }
        const h = headers ? headers[i] : undefined;
        let rec: Rec;
        if (spans) rec = out[first + i];
        else if (this.format === 'envelope') rec = this.envelope(ref, offsets[i], timestamps[i], key, keyB64, h, buf, valueStart[i], valueEnd[i]);
        else rec = this.format === 'raw' ? this.rawValue(buf, valueStart[i], valueEnd[i], offsets[i], ref) : this.value(buf, valueStart[i], valueEnd[i], offsets[i], ref);
        // An envelope is a document of its own, as it is through a pipe: its key, time and headers are inside it.
        if (this.format !== 'envelope') {
          if (h) rec.headers = headersJson(h).rec;
          rec.key = key;
          rec.ts = timestamps[i];
          rec.storedAs(stored, i);
        }
        if (!spans) out.push(rec);
      }
      last = offsets[n - 1];
    }
    return last;
  }

  /**
   * The path when nothing downstream reads a field (a plain `consume`, a copy to another topic): a value whose
   * bytes match the stream's learned shape — ASCII JSON on one line — stays bytes (Rec.storedText) and is neither
   * copied nor decoded here; the others, and the first lines that teach the scanner the shape, go the general way.
   */
  private storedValues(cols: RecordColumns, n: number, ref: PartitionRef, stored: ColumnsStored, out: Rec[]): true {
    const { buf, valueStart, valueEnd, offsets } = cols;
    const scanner = this.scanner as FieldScanner;
    const bytes = chunkBytes(buf);
    for (let i = 0; i < n; i++) {
      const vs = valueStart[i];
      if (vs >= 0 && scanner.matchBytes(bytes, vs, valueEnd[i])) out.push(new Rec(scanner.empty, undefined, true, offsets[i], ref).storedText(stored, i));
      else out.push(this.value(buf, vs, valueEnd[i], offsets[i], ref));
    }
    return true;
  }

  /**
   * The fast path for ASCII values: all values of the batch are copied into one buffer, one per line, decoded as
   * one string, and each record keeps a span of it (as NDJSON records keep spans of their chunk); the scanner reads
   * values in place. Returns false (adding nothing) when some value is not ASCII: those batches go record by record.
   */
  private valueSpans(cols: RecordColumns, n: number, ref: PartitionRef, out: Rec[]): boolean {
    const { buf, valueStart, valueEnd, offsets } = cols;
    let size = 0;
    for (let i = 0; i < n; i++) if (valueStart[i] >= 0) size += valueEnd[i] - valueStart[i] + 1;
    const joined = Buffer.allocUnsafe(size);
    let p = 0;
    for (let i = 0; i < n; i++) {
      const vs = valueStart[i];
      if (vs < 0) continue;
      p += buf.copy(joined, p, vs, valueEnd[i]);
      joined[p++] = 10;
    }
    if (!isAscii || !isAscii(joined)) return false;
    const text = joined.toString('latin1');
    const plain = chunkIsPlain(text);
    const bytes = chunkBytes(joined);
    const scanner = this.scanner;
    let nl = text.indexOf('\n');
    if (nl < 0) nl = Infinity;
    // a carriage return anywhere in a value breaks its line too, for readers that split on it (as textRec has it)
    let cr = plain ? Infinity : text.indexOf('\r');
    if (cr < 0) cr = Infinity;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const offset = offsets[i];
      if (valueStart[i] < 0) {
        out.push(new Rec(null, undefined, false, offset, ref));
        continue;
      }
      const e = a + valueEnd[i] - valueStart[i];
      if (cr < a) {
        cr = text.indexOf('\r', a);
        if (cr < 0) cr = Infinity;
      }
      const multiline = nl < e || cr < e;
      while (nl < e) nl = text.indexOf('\n', nl + 1);
      nl = text.indexOf('\n', e + 1);
      if (nl < 0) nl = Infinity;
      out.push(this.spanValue(text, a, e, plain, bytes, multiline, scanner, offset, ref));
      a = e + 1;
    }
    return true;
  }

  private spanValue(text: string, a: number, e: number, plain: boolean, bytes: ChunkBytes, multiline: boolean, scanner: FieldScanner | undefined, offset: number, ref: PartitionRef): Rec {
    const c = text.charCodeAt(a);
    if (a < e && startsJson(c)) {
      if (!multiline) {
        try {
          if (scanner === undefined) return new Rec(JSON.parse(text.slice(a, e)), text.slice(a, e), false, offset, ref);
          const v = scanner.scan(text, a, e, plain, bytes);
          return Rec.span(v, text, a, e, scanner.lastWasPartial, offset, ref, true);
        } catch {
          // not JSON: a string
        }
      } else {
        try {
          return new Rec(JSON.parse(text.slice(a, e)), undefined, false, offset, ref);
        } catch {
          // not JSON: a string
        }
      }
    }
    return new Rec(text.slice(a, e), undefined, false, offset, ref);
  }

  private value(buf: Buffer, vs: number, ve: number, offset: number, ref: PartitionRef): Rec {
    if (vs < 0) return new Rec(null, undefined, false, offset, ref);
    const text = utf8Text(buf, vs, ve);
    if (text === undefined) {
      this.binary++;
      return new Rec(buf.toString('base64', vs, ve), undefined, false, offset, ref);
    }
    return textRec(text, this.scanner, offset, ref);
  }

  private rawValue(buf: Buffer, vs: number, ve: number, offset: number, ref: PartitionRef): Rec {
    if (vs < 0) return new Rec(null, '', false, offset, ref);
    let text = utf8Text(buf, vs, ve);
    if (text === undefined) {
      this.binary++;
      text = buf.toString('base64', vs, ve);
    }
    return new Rec(text, text, false, offset, ref);
  }

  private envelope(
    ref: PartitionRef, offset: number, ts: number, key: string | null, keyB64: boolean,
    h: { key: string; value: Buffer | null }[] | undefined, buf: Buffer, vs: number, ve: number,
  ): Rec {
    const value = valueJson(buf, vs, ve);
    if (value.base64) this.binary++;
    const hd = h ? headersJson(h) : undefined;
    const line = envelopeLine(ref.topicJson, ref.partition, offset, ts, { json: key === null ? 'null' : JSON.stringify(key), base64: keyB64 }, hd ? hd.json : '[]', value);
    // nothing downstream reads the value: the object is built only if something asks (fullValue)
    if (this.viewOnly) return new Rec({}, line, true, offset, ref);
    const env: Record<string, unknown> = {
      topic: ref.topic, partition: ref.partition, offset, timestamp: ts, key,
      headers: hd ? hd.list : [],
      value: value.embedded ? JSON.parse(value.json) : value.text,
    };
    if (value.base64) env.encoding = 'base64';
    if (keyB64) env.keyEncoding = 'base64';
    return new Rec(env, line, false, offset, ref);
  }
}
