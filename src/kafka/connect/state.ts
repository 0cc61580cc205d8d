import { CHANGED_STATE_HINT, type SourcePosition, type StateBackend, type StatefulStage } from '../../pipeline/stage.js';
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
 * Scope: one changelog per consumer group, restored whole. With several processes in one group each would restore
 * every entry and write over the others' operator-wide entries (stream time, watermark, open windows), so the
 * Kafka source refuses a second process in a stateful job's group (KafkaSource.refuseShared). Partition-scoped
 * changelogs need co-partitioned input (a repartition topic) and are not done yet.
 */
const POS = '$pos/';
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export class KafkaStateBackend implements StateBackend {
  private client: KafkaClient | undefined;
  private producer: TransactionalProducer | undefined;
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
    if (!(await client.topicExists(this.topic))) {
      // One entry holds a whole accumulator (a distinct set, percentile counts): room beyond the 1 MB default.
      await client.createTopic(this.topic, { partitions: 1, configs: { 'cleanup.policy': 'compact', 'max.message.bytes': String(MAX_ENTRY_BYTES) } });
      // restored empty: stages start tracking their changes from here
      for (const st of stages) st.restore([]);
      return;
    }
    const ends = await client.offsets(this.topic, 'read_committed');
    const stopAt = new Map<string, number>();
    for (const p of ends) if (p.end > p.start) stopAt.set(tpKey(this.topic, p.partition), p.end);
    const latest = new Map<string, string | null>();
    if (stopAt.size) {
      const consumer = client.consumer({
        topics: [this.topic],
        partitions: ends.filter((p) => p.end > p.start).map((p) => p.partition),
        isolation: 'read_committed',
        start: async (parts) => new Map(parts.map((tp) => [tpKey(tp.topic, tp.partition), ends.find((e) => e.partition === tp.partition)!.start])),
        stopAt,
      });
      try {
        for await (const fetched of consumer.batches()) {
          for (const part of fetched) {
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
    }
    const perStage: [string, unknown][][] = stages.map(() => []);
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
      if (!(idx >= 0 && idx < stages.length) || key.slice(a + 1, b) !== stages[idx].name) {
        throw new RuntimeError(
          `state topic \`${this.topic}\` holds state of another pipeline (\`${key.slice(0, b)}\`)`,
          CHANGED_STATE_HINT,
        );
      }
      perStage[idx].push([key.slice(b + 1), stateParse(value)]);
    }
    stages.forEach((st, i) => st.restore(perStage[i]));
    this.restored = latest.size;
  }

  async persist(changes: { stage: number; entries: [string, unknown][] }[], positions: SourcePosition[]): Promise<void> {
    // Not restored yet (--exactly-once before any partition was assigned): no record was processed either.
    if (!this.ready) return;
    const batch: OutBatch = { count: 0, keys: [], values: [], timestamps: [], partitions: undefined, headers: undefined };
    const now = Date.now();
    for (const { stage, entries } of changes) {
      const prefix = `${stage}/${this.names[stage]}/`;
      for (const [k, v] of entries) {
        batch.keys.push(prefix + k);
        batch.values.push(v === null || v === undefined ? null : stateStringify(v));
        batch.timestamps.push(now);
        batch.count++;
      }
    }
    if (!batch.count) return;
    // the records the batches set aside go out first: a restart from the new position will not see them again
    await this.run.flushLetters();
    // one entry per partition: the latest position of the batches this checkpoint covers
    const latest = new Map<string, number>();
    for (const p of positions) latest.set(`${POS}${p.topic}/${p.partition}`, p.offset);
    for (const [key, offset] of latest) {
      batch.keys.push(key);
      batch.values.push(String(offset));
      batch.timestamps.push(now);
      batch.count++;
    }
    const eos = this.run.eos;
    if (eos) return eos.send(this.topic, batch);
    if (!this.producer) {
      const client = await this.connect();
      this.producer = client.transactionalProducer(`kstream-state-${this.topic}`, { acks: -1, compression: 'none', batchBytes: 1_000_000, batchRecords: 50_000 }, `state topic \`${this.topic}\``);
      // fences a previous run's writer and aborts the checkpoint it may have left half written
      await this.producer.init();
    }
    await this.producer.send(this.topic, batch);
    await this.producer.commit('', []);
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
