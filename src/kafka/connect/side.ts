import type { Buffer } from 'node:buffer';
import type { SideInput, SidePosition, SideRow } from '../../pipeline/stage.js';
import { tpKey, type FetchedPartition, type KafkaClient, type KafkaConsumer } from '../types.js';
import { openKafka } from '../client/open.js';
import type { KafkaConfig } from '../config.js';
import { kafkaError, MissingTopic } from '../errors.js';
import { utf8Text } from '../../io/envelope.js';

/**
 * A topic read as a table side (`join global:<topic>`, `kstream table <topic>`): every partition from its start,
 * without a group, read_committed (an aborted write never becomes a row). The batch that reaches the end offsets
 * seen at start says `caughtUp`; with `follow` the topic is read on after that, else the batches end there.
 *
 * Keys are their UTF-8 text (base64 when they are not text, as `consume` writes them); values are what `consume`
 * would write: JSON when they are JSON, else their text — handed over as text, decoded by the table when a lookup
 * first needs them; a record without a value is a tombstone (null).
 */
function rowsOf(resp: FetchedPartition[]): SideRow[] {
  const rows: SideRow[] = [];
  for (const fp of resp) {
    for (const cols of fp.batches) {
      const { buf, keyStart, keyEnd, valueStart, valueEnd, timestamps, offsets } = cols;
      const partition = fp.partition;
      for (let i = 0; i < cols.count; i++) {
        const ks = keyStart[i];
        const key = ks < 0 ? null : utf8Text(buf, ks, keyEnd[i]) ?? buf.toString('base64', ks, keyEnd[i]);
        const offset = offsets[i];
        if (valueStart[i] < 0) {
          rows.push({ key, value: null, ts: timestamps[i], partition, offset });
          continue;
        }
        const text = utf8Text(buf, valueStart[i], valueEnd[i]);
        if (text === undefined) rows.push({ key, value: buf.toString('base64', valueStart[i], valueEnd[i]), ts: timestamps[i], partition, offset });
        else rows.push({ key, value: text, ts: timestamps[i], lazy: true, partition, offset });
      }
    }
  }
  return rows;
}

export class TopicSide implements SideInput {
  private client: KafkaClient | undefined;
  private consumer: KafkaConsumer | undefined;
  private closed = false;
  resumeAt: SidePosition | undefined;

  constructor(private readonly cfg: KafkaConfig, readonly topic: string, readonly name: string, readonly follows: boolean) {}

  async *batches(): AsyncIterable<{ rows: SideRow[]; caughtUp: boolean }> {
    const { topic } = this;
    try {
      const client = (this.client = await openKafka(this.cfg));
      await client.connect();
      if (!(await client.topicExists(topic))) throw new MissingTopic(topic, `the side \`${this.name}\` names a topic to read as a table; list topics with \`kstream topics\``);
      const ends = await client.offsets(topic, 'read_committed');
      const at = (from: Map<string, number>) => async (parts: { topic: string; partition: number }[]) => new Map(parts.map((tp) => [tpKey(tp.topic, tp.partition), from.get(tpKey(tp.topic, tp.partition)) ?? 0]));
      const target = new Map(ends.map((e) => [tpKey(topic, e.partition), e.end]));
      // bootstrap: a consumer that stops at the end offsets seen at start — it knows when it got there, even when
      // a partition ends in transaction markers that no fetch hands out as records
      // from the start of every partition, or from a checkpointed position (never before the log's start)
      const from = this.resumeAt?.offsets;
      const startOf = (e: { partition: number; start: number }) => Math.max(e.start, from?.[String(e.partition)] ?? 0);
      if (ends.some((e) => e.end > startOf(e))) {
        const starts = new Map(ends.map((e) => [tpKey(topic, e.partition), startOf(e)]));
        this.consumer = client.consumer({ topics: [topic], isolation: 'read_committed', start: at(starts), stopAt: target });
        for await (const resp of this.consumer.batches()) {
          yield { rows: rowsOf(resp), caughtUp: false };
          if (this.closed) return;
        }
        await this.consumer.close();
      }
      yield { rows: [], caughtUp: true };
      if (!this.follows || this.closed) return;
      this.consumer = client.consumer({ topics: [topic], isolation: 'read_committed', start: at(target) });
      for await (const resp of this.consumer.batches()) {
        yield { rows: rowsOf(resp), caughtUp: true };
        if (this.closed) return;
      }
    } catch (e) {
      if (this.closed) return;
      throw kafkaError(e, { cfg: this.cfg, topic });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.consumer?.close();
    } finally {
      await this.client?.close();
    }
  }
}
