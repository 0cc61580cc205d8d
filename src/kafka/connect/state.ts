import { CHANGED_STATE_HINT, type SourcePosition, type StateBackend, type StatefulStage, type TaskedStages } from '../../pipeline/stage.js';
import { RuntimeError } from '../../pipeline/errors.js';
import { tpKey, type KafkaClient, type OutBatch, type TransactionalProducer } from '../types.js';
import { openKafka } from '../client/open.js';
import type { KafkaRun } from './run.js';
import { stateParse, stateStringify } from '../../pipeline/statejson.js';
import type { KafkaConfig } from '../config.js';

/**
 * Changelog-backed state in a compacted Kafka topic, the way Kafka Streams keeps its state stores.
 *
 * Each entry is one Kafka record: key `<stage index>/<stage name>/<entry key>`, value the entry's JSON, or a
 * tombstone (null) when the entry was removed — so compaction keeps exactly the live state. On start the topic is
 * read to its end and each stage gets back the latest value of its live keys before the first record; the name in
 * the key guards against restoring one stage's entries into another after the pipeline changed.
 *
 * Each checkpoint also records where reading resumes (`$pos/<topic>/<partition>` → next offset): state is written
 * before offsets are committed, so a run killed between the two would otherwise apply the batch to its state a
 * second time after the restart. The source starts at the later of the committed offset and this position, so
 * every input record counts in the state once — also under at-least-once, where only the output may repeat.
 * Under --exactly-once the writes go into the batch's transaction (with its output and offsets); otherwise each
 * checkpoint is a transaction of its own, so a run killed halfway through writing one leaves none of it visible
 * (restore reads read_committed), never some accumulators ahead of the recorded position.
 *
 * Partitioned (a tasked run, pipeline/tasks.ts — every Kafka-fed stateful span without a side input): the
 * changelog has as many partitions as the input, and task p's entries, with its `$pos` entries, live in partition
 * p. A process restores only the partitions of the tasks it is assigned (`restoreTasks`) and forgets revoked ones
 * (`dropTasks`); under at-least-once each task checkpoints through a transactional id of its own
 * (`kstream-state-<topic>-<task>`), which the next owner takes before it restores: that fences the previous owner
 * and settles a checkpoint it left half written. Under --exactly-once the entries go into the input partition's
 * transaction, whose id is already the task's. A one-partition changelog from before (state kept whole per group)
 * serves a one-partition input as it is, and is refused for a wider one.
 *
 * Whole (a span with a side input): one changelog partition, restored whole; the Kafka source refuses a second
 * process in such a job's group (KafkaSource.refuseShared).
 */
const POS = '$pos/';
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export class KafkaStateBackend implements StateBackend {
  private client: KafkaClient | undefined;
  private names: string[] = [];
  restored = 0;
  private ready = false;
  readonly positions = new Map<string, number>();

  /** Restoring: when it started, entries read so far, when it ended. */
  private restoreStart: number | undefined;
  private restoreRead = 0;
  private restoreEnd: number | undefined;

  /** `log`: where the restore says how long it took (none under --quiet). */
  constructor(private readonly cfg: KafkaConfig, readonly topic: string, private readonly run: KafkaRun, private readonly log?: (line: string) => void) {
    run.writes.add(topic);
  }

  progress(): { entries: number; seconds: number; done: boolean } | undefined {
    if (this.restoreStart === undefined) return undefined;
    return { entries: this.restoreRead, seconds: ((this.restoreEnd ?? Date.now()) - this.restoreStart) / 1000, done: this.restoreEnd !== undefined };
  }

  private async connect(): Promise<KafkaClient> {
    if (!this.client) {
      this.client = await openKafka(this.cfg);
      await this.client.connect();
    }
    return this.client;
  }

  async restore(stages: StatefulStage[]): Promise<void> {
    this.restoreStart = Date.now();
    try {
      await this.restoreFrom(stages);
    } finally {
      this.restoreEnd = Date.now();
    }
    if (this.restored) this.log?.(`kstream: state: restored ${this.restored.toLocaleString('en')} entr${this.restored === 1 ? 'y' : 'ies'} of ${stages.map((s) => `\`${s.name}\``).join(', ')} from \`${this.topic}\` (${this.restoreRead.toLocaleString('en')} records read) in ${((this.restoreEnd - this.restoreStart) / 1000).toFixed(2)} s`);
  }

  private async restoreFrom(stages: StatefulStage[]): Promise<void> {
    this.names = stages.map((s) => s.name);
    this.ready = true;
    const client = await this.connect();
    // the checkpoints' transactional id, taken before reading (as restoreTasks does): a previous run's half-written
    // checkpoint is aborted rather than holding the read_committed read below
    if (!this.run.eos) await this.producerOf(0, client).init();
    if (!(await client.topicExists(this.topic))) {
      // One entry holds a whole accumulator (a distinct set, percentile counts): room beyond the 1 MB default.
      await client.createTopic(this.topic, { partitions: 1, configs: { 'cleanup.policy': 'compact', 'max.message.bytes': String(MAX_ENTRY_BYTES) } });
      // restored empty: stages start tracking their changes from here
      for (const st of stages) st.restore([]);
      return;
    }
    // whole state lives in one partition (an older layout may have more: all are read)
    const partitions = (await client.offsets(this.topic, 'read_committed')).map((p) => p.partition);
    const latest = new Map<string, string | null>();
    for (const part of (await this.readPartitions(client, partitions)).values()) for (const [k, v] of part) latest.set(k, v);
    const perStage = this.entriesOf(latest, stages.length);
    stages.forEach((st, i) => st.restore(perStage[i]));
    this.restored = latest.size;
  }

  /** Partitioned: the stages of each task, set by the runner. */
  tasks?: TaskedStages;
  checkpointNow?: () => Promise<void>;
  /** At-least-once: the transactional producer of each changelog partition written (whole state: partition 0). */
  private readonly taskProducers = new Map<number, TransactionalProducer>();
  private layoutChecked = false;

  /** Creates the partitioned changelog, or checks that the one there has the input's partition count. */
  private async layout(client: KafkaClient, partitions: number): Promise<void> {
    if (this.layoutChecked) return;
    if (!(await client.topicExists(this.topic))) {
      await client.createTopic(this.topic, { partitions, configs: { 'cleanup.policy': 'compact', 'max.message.bytes': String(MAX_ENTRY_BYTES) } });
    } else {
      const [meta] = await client.topics([this.topic]);
      const has = meta.partitions.length;
      if (has !== partitions) {
        throw new RuntimeError(
          has === 1
            ? `state topic \`${this.topic}\` keeps the group's state in one partition (written by an earlier kstream, which kept state whole per group), but the input has ${partitions} partitions and state is now kept per input partition`
            : `state topic \`${this.topic}\` has ${has} partitions, the input ${partitions}: state is kept per input partition, so the two must match`,
          `finish the old job's windows with the kstream that wrote them, then delete the topic (\`kstream topics delete ${this.topic}\`) — or give this job its own --state-topic or --group`,
        );
      }
    }
    this.layoutChecked = true;
  }

  /**
   * The transactional producer of a changelog partition: one per task (`kstream-state-<topic>-<task>`, taken in
   * restoreTasks), or the whole state's (`kstream-state-<topic>`). Taking an id fences a previous holder and aborts
   * the checkpoint it may have left half written.
   */
  private producerOf(task: number, client: KafkaClient): TransactionalProducer {
    let p = this.taskProducers.get(task);
    if (!p) {
      const id = this.tasks ? `kstream-state-${this.topic}-${task}` : `kstream-state-${this.topic}`;
      p = client.transactionalProducer(id, { acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000 }, this.tasks ? `state topic \`${this.topic}\` partition ${task}` : `state topic \`${this.topic}\``);
      this.taskProducers.set(task, p);
    }
    return p;
  }

  /**
   * Restores the tasks `ids` (those not held yet) from their changelog partitions, creating the changelog with the
   * input's `partitions` when missing. Under at-least-once each task's transactional id is taken first.
   */
  async restoreTasks(ids: number[], partitions: number): Promise<void> {
    const tasks = this.tasks!;
    const fresh = [...new Set(ids)].filter((t) => !tasks.has(t)).sort((a, b) => a - b);
    if (!fresh.length) return;
    const started = Date.now();
    this.restoreStart = started;
    this.restoreEnd = undefined;
    const readBefore = this.restoreRead;
    try {
      const client = await this.connect();
      await this.layout(client, partitions);
      this.names = tasks.keeps;
      this.ready = true;
      if (!this.run.eos) await Promise.all(fresh.map((t) => this.producerOf(t, client).init()));
      const latest = await this.readPartitions(client, fresh);
      let entries = 0;
      for (const t of fresh) {
        const perStage = this.entriesOf(latest.get(t) ?? new Map(), tasks.keeps.length);
        entries += perStage.reduce((n, e) => n + e.length, 0);
        tasks.add(t, perStage);
      }
      this.restored += entries;
      const took = ((Date.now() - started) / 1000).toFixed(2);
      // (a task new to the group, with nothing to restore, is not worth a line)
      if (this.restoreRead > readBefore) this.log?.(`kstream: state: took task${fresh.length === 1 ? '' : 's'} ${fresh.join(', ')}: restored ${entries.toLocaleString('en')} entr${entries === 1 ? 'y' : 'ies'} of ${tasks.keeps.map((s) => `\`${s}\``).join(', ')} from \`${this.topic}\` (${(this.restoreRead - readBefore).toLocaleString('en')} records read) in ${took} s`);
    } finally {
      this.restoreEnd = Date.now();
    }
  }

  /** Tasks whose partitions went to another process: dropped, their ids and positions forgotten. */
  dropTasks(ids: number[]): void {
    const tasks = this.tasks!;
    const gone = [...new Set(ids)].filter((t) => tasks.has(t));
    for (const t of gone) {
      tasks.drop(t);
      this.taskProducers.delete(t);
      for (const k of [...this.positions.keys()]) if (k.endsWith(`\u0000${t}`)) this.positions.delete(k);
    }
    if (gone.length) this.log?.(`kstream: state: gave up task${gone.length === 1 ? '' : 's'} ${gone.join(', ')} (revoked)`);
  }

  /** The latest value of every key in these changelog partitions (read_committed, to their ends), by partition. */
  private async readPartitions(client: KafkaClient, partitions: number[]): Promise<Map<number, Map<string, string | null>>> {
    const ends = (await client.offsets(this.topic, 'read_committed')).filter((p) => partitions.includes(p.partition) && p.end > p.start);
    const res = new Map<number, Map<string, string | null>>();
    if (!ends.length) return res;
    const stopAt = new Map(ends.map((p) => [tpKey(this.topic, p.partition), p.end]));
    const consumer = client.consumer({
      topics: [this.topic],
      partitions: ends.map((p) => p.partition),
      isolation: 'read_committed',
      start: async (parts) => new Map(parts.map((tp) => [tpKey(tp.topic, tp.partition), ends.find((e) => e.partition === tp.partition)!.start])),
      stopAt,
    });
    try {
      for await (const fetched of consumer.batches()) {
        for (const part of fetched) {
          let latest = res.get(part.partition);
          if (!latest) res.set(part.partition, (latest = new Map()));
          for (const cols of part.batches) {
            this.restoreRead += cols.count;
            for (let i = 0; i < cols.count; i++) {
              if (cols.keyStart[i] < 0) continue;
              const key = cols.buf.toString('utf8', cols.keyStart[i], cols.keyEnd[i]);
              latest.set(key, cols.valueStart[i] < 0 ? null : cols.buf.toString('utf8', cols.valueStart[i], cols.valueEnd[i]));
            }
          }
        }
      }
    } finally {
      await consumer.close();
    }
    return res;
  }

  /** Live entries by stage (checked against the stages' names), the `$pos` entries into `positions`. */
  private entriesOf(latest: Map<string, string | null>, stages: number): [string, unknown][][] {
    const perStage: [string, unknown][][] = Array.from({ length: stages }, () => []);
    for (const [key, value] of latest) {
      if (value === null) continue;
      if (key.startsWith(POS)) {
        const at = key.lastIndexOf('/');
        const offset = Number(value);
        if (at > POS.length && Number.isInteger(offset)) this.positions.set(tpKey(key.slice(POS.length, at), Number(key.slice(at + 1))), offset);
        continue;
      }
      const a = key.indexOf('/');
      const b = key.indexOf('/', a + 1);
      const idx = Number(key.slice(0, a));
      if (!(idx >= 0 && idx < stages) || key.slice(a + 1, b) !== this.names[idx]) {
        throw new RuntimeError(`state topic \`${this.topic}\` holds state of another pipeline (\`${key.slice(0, b)}\`)`, CHANGED_STATE_HINT);
      }
      perStage[idx].push([key.slice(b + 1), stateParse(value)]);
    }
    return perStage;
  }

  /**
   * While the group rebalances (from the checkpoint before it to the drop of the revoked tasks) nothing is written:
   * a task given to another member may already be fenced by it. Changes a clock tick makes meanwhile are held and
   * written with the next checkpoint, for the tasks still held then.
   */
  private frozen = false;
  private held: { changes: { stage: number; entries: [string, unknown][]; task?: number }[]; positions: SourcePosition[] } = { changes: [], positions: [] };

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
  }

  /**
   * The state's changes and the positions they include, as changelog records, by the partition they go to: whole
   * state all to partition 0; partitioned, a task's entries and its input partition's `$pos` to the task's
   * partition (a task revoked since its records were processed is skipped: its state is its new owner's). A
   * position goes only with entries: a task whose state did not change is read again from the committed offset
   * into the same state.
   */
  private records(changes: { stage: number; entries: [string, unknown][]; task?: number }[], positions: SourcePosition[]): Map<number, OutBatch> {
    const tasks = this.tasks;
    const now = Date.now();
    const out = new Map<number, OutBatch>();
    const put = (t: number, key: string, value: string | null) => {
      let b = out.get(t);
      if (!b) out.set(t, (b = { count: 0, keys: [], values: [], timestamps: [], partitions: tasks ? [] : undefined, headers: undefined }));
      b.keys.push(key);
      b.values.push(value);
      b.timestamps.push(now);
      b.partitions?.push(t);
      b.count++;
    };
    for (const { stage, entries, task } of changes) {
      const t = tasks ? task : 0;
      if (t === undefined || (tasks && !tasks.has(t))) continue;
      const prefix = `${stage}/${this.names[stage]}/`;
      for (const [k, v] of entries) put(t, prefix + k, v === null || v === undefined ? null : stateStringify(v));
    }
    // one entry per partition: the latest position of the batches this checkpoint covers
    const latest = new Map<string, SourcePosition>();
    for (const p of positions) latest.set(`${POS}${p.topic}/${p.partition}`, p);
    for (const [key, p] of latest) {
      const t = tasks ? p.partition : 0;
      if (out.has(t)) put(t, key, String(p.offset));
    }
    return out;
  }

  async persist(changes: { stage: number; entries: [string, unknown][]; task?: number }[], positions: SourcePosition[]): Promise<void> {
    // Not restored yet (--exactly-once before any partition was assigned): no record was processed either.
    if (!this.ready) return;
    if (this.frozen || this.held.changes.length) {
      this.held.changes.push(...changes);
      this.held.positions.push(...positions);
      if (this.frozen) return;
      ({ changes, positions } = this.held);
      this.held = { changes: [], positions: [] };
    }
    const out = this.records(changes, positions);
    if (!out.size) return;
    // the records the batches set aside go out first: a restart from the new position will not see them again
    await this.run.flushLetters();
    // (a task dropped meanwhile is its new owner's)
    if (this.tasks) for (const t of [...out.keys()]) if (!this.tasks.has(t)) out.delete(t);
    const eos = this.run.eos;
    if (eos) {
      for (const b of out.values()) await eos.send(this.topic, b);
      return;
    }
    const client = await this.connect();
    await Promise.all(
      [...out].map(async ([t, b]) => {
        const producer = this.producerOf(t, client);
        await producer.send(this.topic, b);
        await producer.commit('', []);
      }),
    );
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
