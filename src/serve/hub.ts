import { utf8Text } from '../io/envelope.js';
import { tpKey, type FetchedPartition, type KafkaClient, type KafkaConsumer } from '../kafka/types.js';
import { partitionForKey } from '../kafka/protocol/records.js';

/**
 * The gateway's fan-out: every gateway process reads the whole output topic (no group) from its end offsets at
 * start and hands each stream's results to that stream's subscribers on this process, so any process serves any
 * stream. A result's id is its output offset; one stream lives in one partition (its key is the stream id), so
 * the ids of a stream only grow and "everything after id N" is well defined.
 *
 * Resume (SSE Last-Event-ID, `?from=`): the hub keeps the last `ring` results of each stream it has seen and the
 * offset from which that ring is complete (`ringFrom`). Results after the resume point and before `ringFrom` are
 * read again from Kafka (one partition, from the point, filtered by key), then the ring, then live results — so
 * a client that reconnects to any process, even one started after it went away, sees no gap and no duplicate.
 */
export type HubEvent = { kind: 'result'; offset: number; data: string } | { kind: 'end'; offset: number };

export interface Subscriber {
  /** Called in offset order; the transport bounds its own buffer and drops the subscriber when it overflows. */
  deliver(ev: HubEvent): void;
  /** The hub gives up on the subscriber (a resume that could not be read, too far behind while catching up). */
  drop(reason: string): void;
}

/** The header that marks a stream's end marker (POST /stream/{id}/end), in the input and the output topic. */
export const END_HEADER = 'kstream-serve';
export const END_VALUE = 'end';

interface StreamState {
  ring: HubEvent[];
  /** Every result of the stream at or after this offset is in the ring. */
  ringFrom: number;
  subs: Set<Sub>;
}

interface Sub {
  s: Subscriber;
  /** Live events held while the subscriber catches up from Kafka; undefined once it is live. */
  pending: HubEvent[] | undefined;
}

export interface HubOptions {
  /** Results kept per stream for resume without reading Kafka. */
  ring?: number;
  /** Streams whose rings are kept (those with subscribers always are; the least recently seen others go first). */
  streams?: number;
  /** Live events held for one subscriber while it catches up; more and it is dropped. */
  pending?: number;
}

export class Hub {
  private readonly streams = new Map<string, StreamState>();
  private readonly ended = new Set<string>();
  /** Per partition: the next offset the tail will hand out (everything before it has been dispatched). */
  private readonly tailNext = new Map<number, number>();
  private consumer: KafkaConsumer | undefined;
  private closed = false;
  partitions = 0;
  events = 0;
  catchUps = 0;
  private readonly ring: number;
  private readonly maxStreams: number;
  private readonly maxPending: number;
  /** The tail loop: ends when the hub closes. */
  tail: Promise<void> = Promise.resolve();

  constructor(private readonly client: KafkaClient, readonly topic: string, opts: HubOptions = {}) {
    // 64 results × 10,000 streams bounds the rings to some 100 MB even with large results; older results are
    // read back from Kafka on resume
    this.ring = opts.ring ?? 64;
    this.maxStreams = opts.streams ?? 10_000;
    this.maxPending = opts.pending ?? 10_000;
  }

  /**
   * Reads the output topic's end offsets and starts following it from there. A tail that fails (an outage longer
   * than the client retries through) starts again where it was after `restartMs`, telling `onError`; results are
   * never skipped, since it goes on from the next offset it had not dispatched.
   */
  async start(onError: (e: unknown) => void, restartMs = 1000): Promise<void> {
    const ends = await this.client.offsets(this.topic, 'read_committed');
    this.partitions = ends.length;
    for (const e of ends) this.tailNext.set(e.partition, e.end);
    this.tail = (async () => {
      while (!this.closed) {
        const from = new Map([...this.tailNext].map(([p, o]) => [tpKey(this.topic, p), o]));
        this.consumer = this.client.consumer({ topics: [this.topic], isolation: 'read_committed', start: async () => from, maxWaitMs: 100 });
        try {
          for await (const resp of this.consumer.batches()) {
            if (this.closed) return;
            this.dispatch(resp);
          }
        } catch (e) {
          if (this.closed) return;
          onError(e);
          await this.consumer.close().catch(() => undefined);
          await new Promise((r) => setTimeout(r, restartMs));
        }
      }
    })();
  }

  partitionOf(id: string): number {
    return partitionForKey(id, this.partitions);
  }

  isEnded(id: string): boolean {
    return this.ended.has(id);
  }

  markEnded(id: string): void {
    this.ended.add(id);
    if (this.ended.size > 100_000) this.ended.delete(this.ended.values().next().value as string);
  }

  subscribers(): number {
    let n = 0;
    for (const st of this.streams.values()) n += st.subs.size;
    return n;
  }

  private state(id: string): StreamState {
    let st = this.streams.get(id);
    if (st) {
      // most recently seen last: the map's first entries are the ones to forget
      this.streams.delete(id);
      this.streams.set(id, st);
      return st;
    }
    st = { ring: [], ringFrom: this.tailNext.get(this.partitionOf(id)) ?? 0, subs: new Set() };
    this.streams.set(id, st);
    if (this.streams.size > this.maxStreams) {
      for (const [k, v] of this.streams) {
        if (this.streams.size <= this.maxStreams) break;
        if (v.subs.size === 0 && k !== id) this.streams.delete(k);
      }
    }
    return st;
  }

  private dispatch(resp: FetchedPartition[]): void {
    for (const fp of resp) {
      for (const cols of fp.batches) {
        const { buf, keyStart, keyEnd, valueStart, valueEnd, offsets, headers } = cols;
        for (let i = 0; i < cols.count; i++) {
          if (keyStart[i] < 0) continue;
          const id = buf.toString('utf8', keyStart[i], keyEnd[i]);
          const offset = offsets[i];
          const end = headers?.[i]?.some((h) => h.key === END_HEADER && h.value?.toString() === END_VALUE);
          let ev: HubEvent;
          if (end) {
            ev = { kind: 'end', offset };
            this.markEnded(id);
          } else {
            const text = valueStart[i] < 0 ? 'null' : utf8Text(buf, valueStart[i], valueEnd[i]) ?? JSON.stringify(buf.toString('base64', valueStart[i], valueEnd[i]));
            ev = { kind: 'result', offset, data: text };
          }
          this.events++;
          const st = this.state(id);
          st.ring.push(ev);
          if (st.ring.length > this.ring) st.ringFrom = st.ring.shift()!.offset + 1;
          for (const sub of st.subs) this.hand(st, sub, ev);
          // an ended stream's ring is not kept for nobody: a late resume reads its results back from Kafka
          if (end && st.subs.size === 0) this.streams.delete(id);
        }
      }
      if (fp.nextOffset >= 0) this.tailNext.set(fp.partition, Math.max(this.tailNext.get(fp.partition) ?? 0, fp.nextOffset));
    }
  }

  private hand(st: StreamState, sub: Sub, ev: HubEvent): void {
    if (!sub.pending) {
      sub.s.deliver(ev);
      return;
    }
    sub.pending.push(ev);
    if (sub.pending.length > this.maxPending) {
      st.subs.delete(sub);
      sub.s.drop('too far behind while catching up');
    }
  }

  /**
   * Subscribes to stream `id`: live results from now on, or, with `after` (the last id the client saw), every
   * result after it first. Returns the unsubscribe function.
   */
  subscribe(id: string, after: number | undefined, s: Subscriber): () => void {
    const st = this.state(id);
    const sub: Sub = { s, pending: undefined };
    st.subs.add(sub);
    const off = () => {
      st.subs.delete(sub);
    };
    if (after === undefined) return off;
    const from = after + 1;
    const ring = st.ring.filter((ev) => ev.offset >= from);
    if (from >= st.ringFrom) {
      for (const ev of ring) s.deliver(ev);
      return off;
    }
    // the ring starts later than the resume point: read [from, ringFrom) of the partition again
    sub.pending = [];
    const upTo = st.ringFrom;
    this.catchUps++;
    this.readBack(id, from, upTo, (ev) => s.deliver(ev)).then(
      () => {
        if (!st.subs.has(sub)) return;
        for (const ev of ring) s.deliver(ev);
        const last = ring.length ? ring[ring.length - 1].offset : upTo - 1;
        for (const ev of sub.pending!) if (ev.offset > last) s.deliver(ev);
        sub.pending = undefined;
      },
      (e) => {
        st.subs.delete(sub);
        s.drop(`could not read the stream's results back from Kafka: ${(e as Error).message}`);
      },
    );
    return off;
  }

  /** The stream's results in [from, upTo) of its partition, read from Kafka. */
  private async readBack(id: string, from: number, upTo: number, deliver: (ev: HubEvent) => void): Promise<void> {
    const p = this.partitionOf(id);
    const offs = await this.client.offsets(this.topic, 'read_committed');
    const start = Math.max(from, offs.find((o) => o.partition === p)?.start ?? 0);
    if (start >= upTo) return;
    const key = tpKey(this.topic, p);
    const consumer = this.client.consumer({
      topics: [this.topic], partitions: [p], isolation: 'read_committed',
      start: async () => new Map([[key, start]]), stopAt: new Map([[key, upTo]]),
    });
    try {
      for await (const resp of consumer.batches()) {
        for (const fp of resp) {
          for (const cols of fp.batches) {
            const { buf, keyStart, keyEnd, valueStart, valueEnd, offsets, headers } = cols;
            for (let i = 0; i < cols.count; i++) {
              if (offsets[i] >= upTo || keyStart[i] < 0 || buf.toString('utf8', keyStart[i], keyEnd[i]) !== id) continue;
              const end = headers?.[i]?.some((h) => h.key === END_HEADER && h.value?.toString() === END_VALUE);
              if (end) deliver({ kind: 'end', offset: offsets[i] });
              else deliver({ kind: 'result', offset: offsets[i], data: valueStart[i] < 0 ? 'null' : utf8Text(buf, valueStart[i], valueEnd[i]) ?? 'null' });
            }
          }
        }
      }
    } finally {
      await consumer.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.consumer?.close().catch(() => undefined);
  }
}
