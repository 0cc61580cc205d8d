import { utf8Text } from '../io/envelope.js';
import { tpKey, type FetchedPartition, type KafkaClient, type KafkaConsumer, type RecordColumns } from '../kafka/types.js';
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
  /** The last id handed over (or the resume point): nothing at or before it is handed again. */
  last: number;
  /** Unsubscribed, dropped or ended: nothing more is handed over (a read-back in flight stops). */
  done: boolean;
}

export interface HubOptions {
  /** Results kept per stream for resume without reading Kafka. */
  ring?: number;
  /** Streams whose rings are kept (those with subscribers always are; the least recently seen others go first). */
  streams?: number;
  /** Live events held for one subscriber while it catches up; more and it is dropped. */
  pending?: number;
  /** Bytes of results all rings may hold; past it, the rings of streams nobody reads go first, then the oldest results. */
  ringBytes?: number;
  /** Read-backs from Kafka (resumes older than a ring) at once; more are refused until one ends. */
  catchUps?: number;
  /** Called when a stream's end marker comes through the output. */
  onEnd?(id: string): void;
}

/** A read-back the hub is already running its most of: the client resumes later (503 with Retry-After). */
export class Busy extends Error {}

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
  private readonly maxRingBytes: number;
  private readonly maxCatchUps: number;
  private ringBytes = 0;
  private catchingUp = 0;
  /** The tail loop: ends when the hub closes. */
  tail: Promise<void> = Promise.resolve();

  constructor(private readonly client: KafkaClient, readonly topic: string, opts: HubOptions = {}) {
    // 64 results × 10,000 streams bounds the rings to some 100 MB even with large results; older results are
    // read back from Kafka on resume
    this.ring = opts.ring ?? 64;
    this.maxStreams = opts.streams ?? 10_000;
    this.maxPending = opts.pending ?? 10_000;
    this.maxRingBytes = opts.ringBytes ?? 64 * 1024 * 1024;
    this.maxCatchUps = opts.catchUps ?? 32;
    this.onEnd = opts.onEnd;
  }

  /** Called when a stream's end marker comes through the output (the gateway forgets the stream's open count). */
  onEnd: ((id: string) => void) | undefined;

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

  unmarkEnded(id: string): void {
    this.ended.delete(id);
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
    // streams are forgotten in the order they were first seen (those with subscribers never): moving a stream to
    // the back at every result cost a Map delete and set per record
    let st = this.streams.get(id);
    if (st) return st;
    st = { ring: [], ringFrom: this.tailNext.get(this.partitionOf(id)) ?? 0, subs: new Set() };
    this.streams.set(id, st);
    if (this.streams.size > this.maxStreams) {
      for (const [k, v] of this.streams) {
        if (this.streams.size <= this.maxStreams) break;
        if (v.subs.size === 0 && k !== id) this.forget(k, v);
      }
    }
    return st;
  }

  private forget(id: string, st: StreamState): void {
    for (const ev of st.ring) this.ringBytes -= sizeOf(ev);
    this.streams.delete(id);
  }

  /** Keeps the rings within their byte budget: streams nobody reads go first (least recently seen first), then old results. */
  private trimRings(): void {
    if (this.ringBytes <= this.maxRingBytes) return;
    for (const [k, v] of this.streams) {
      if (this.ringBytes <= this.maxRingBytes) return;
      if (v.subs.size === 0) this.forget(k, v);
    }
    for (const v of this.streams.values()) {
      while (this.ringBytes > this.maxRingBytes && v.ring.length) {
        const old = v.ring.shift()!;
        this.ringBytes -= sizeOf(old);
        v.ringFrom = old.offset + 1;
      }
      if (this.ringBytes <= this.maxRingBytes) return;
    }
  }

  private dispatch(resp: FetchedPartition[]): void {
    for (const fp of resp) {
      for (const cols of fp.batches) {
        const { buf, keyStart, keyEnd } = cols;
        for (let i = 0; i < cols.count; i++) {
          if (keyStart[i] < 0) continue;
          const id = buf.toString('utf8', keyStart[i], keyEnd[i]);
          const ev = eventOf(cols, i);
          if (ev.kind === 'end') {
            this.markEnded(id);
            this.onEnd?.(id);
          }
          this.events++;
          const st = this.state(id);
          st.ring.push(ev);
          this.ringBytes += sizeOf(ev);
          if (st.ring.length > this.ring) {
            const old = st.ring.shift()!;
            this.ringBytes -= sizeOf(old);
            st.ringFrom = old.offset + 1;
          }
          for (const sub of st.subs) this.hand(st, sub, ev);
          // an ended stream's ring is not kept for nobody: a late resume reads its results back from Kafka
          if (ev.kind === 'end' && st.subs.size === 0) this.forget(id, st);
        }
      }
      if (fp.nextOffset >= 0) this.tailNext.set(fp.partition, Math.max(this.tailNext.get(fp.partition) ?? 0, fp.nextOffset));
    }
    this.trimRings();
  }

  /** Hands `ev` to a live subscriber, once, in id order; an end (or a drop) is its last. */
  private give(st: StreamState, sub: Sub, ev: HubEvent): void {
    if (sub.done || ev.offset <= sub.last) return;
    sub.last = ev.offset;
    if (ev.kind === 'end') this.finish(st, sub);
    sub.s.deliver(ev);
  }

  private finish(st: StreamState, sub: Sub): void {
    sub.done = true;
    st.subs.delete(sub);
  }

  private hand(st: StreamState, sub: Sub, ev: HubEvent): void {
    if (!sub.pending) {
      this.give(st, sub, ev);
      return;
    }
    sub.pending.push(ev);
    if (sub.pending.length > this.maxPending) {
      this.finish(st, sub);
      sub.s.drop('too far behind while catching up');
    }
  }

  /** Throws Busy when a resume after `after` would read back from Kafka and too many read-backs run already. */
  checkResume(id: string, after: number | undefined): void {
    if (after === undefined || this.catchingUp < this.maxCatchUps) return;
    const st = this.streams.get(id);
    const ringFrom = st ? st.ringFrom : this.tailNext.get(this.partitionOf(id)) ?? 0;
    if (after + 1 < ringFrom) throw new Busy(`${this.catchingUp} resumes are reading results back from Kafka already`);
  }

  /**
   * Subscribes to stream `id`: live results from now on, or, with `after` (the last id the client saw), every
   * result after it first — each once, in id order, whatever the ring, the read-back and live results overlap.
   * Returns the unsubscribe function; throws Busy when a read-back is needed and too many run already.
   */
  subscribe(id: string, after: number | undefined, s: Subscriber): () => void {
    this.checkResume(id, after);
    const st = this.state(id);
    const from = after === undefined ? undefined : after + 1;
    const needsReadBack = from !== undefined && from < st.ringFrom;
    const sub: Sub = { s, pending: needsReadBack ? [] : undefined, last: after ?? -Infinity, done: false };
    st.subs.add(sub);
    const off = () => this.finish(st, sub);
    if (from === undefined) return off;
    const ring = st.ring.filter((ev) => ev.offset >= from);
    if (!needsReadBack) {
      for (const ev of ring) this.give(st, sub, ev);
      return off;
    }
    // the ring starts later than the resume point: read [from, ringFrom) of the partition again
    const upTo = st.ringFrom;
    this.catchUps++;
    this.catchingUp++;
    this.readBack(id, from, upTo, sub, (ev) => this.give(st, sub, ev)).then(
      () => {
        if (sub.done) return;
        for (const ev of ring) this.give(st, sub, ev);
        const held = sub.pending!;
        sub.pending = undefined;
        for (const ev of held) this.give(st, sub, ev);
      },
      (e) => {
        if (sub.done) return;
        this.finish(st, sub);
        s.drop(`could not read the stream's results back from Kafka: ${(e as Error).message}`);
      },
    ).finally(() => this.catchingUp--);
    return off;
  }

  /** The stream's results in [from, upTo) of its partition, read from Kafka; stops early once `sub` is done. */
  private async readBack(id: string, from: number, upTo: number, sub: Sub, deliver: (ev: HubEvent) => void): Promise<void> {
    const p = this.partitionOf(id);
    const offs = await this.client.offsets(this.topic, 'read_committed');
    const start = Math.max(from, offs.find((o) => o.partition === p)?.start ?? 0);
    if (start >= upTo || sub.done) return;
    const key = tpKey(this.topic, p);
    const consumer = this.client.consumer({
      topics: [this.topic], partitions: [p], isolation: 'read_committed',
      start: async () => new Map([[key, start]]), stopAt: new Map([[key, upTo]]),
    });
    try {
      for await (const resp of consumer.batches()) {
        for (const fp of resp) {
          for (const cols of fp.batches) {
            const { buf, keyStart, keyEnd, offsets } = cols;
            for (let i = 0; i < cols.count; i++) {
              if (offsets[i] >= upTo || keyStart[i] < 0 || buf.toString('utf8', keyStart[i], keyEnd[i]) !== id) continue;
              deliver(eventOf(cols, i));
            }
          }
        }
        if (sub.done) return;
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

/** Record `i` of a fetched batch as an event: the end marker, or a result (its value as JSON text; a value that is not UTF-8, as a base64 string). */
function eventOf(cols: RecordColumns, i: number): HubEvent {
  const { buf, valueStart, valueEnd, offsets, headers } = cols;
  if (headers?.[i]?.some((h) => h.key === END_HEADER && h.value?.toString() === END_VALUE)) return { kind: 'end', offset: offsets[i] };
  const data = valueStart[i] < 0 ? 'null' : utf8Text(buf, valueStart[i], valueEnd[i]) ?? JSON.stringify(buf.toString('base64', valueStart[i], valueEnd[i]));
  return { kind: 'result', offset: offsets[i], data };
}

/** What an event costs a ring, roughly: its text (two bytes a character) and the object around it. */
function sizeOf(ev: HubEvent): number {
  return ev.kind === 'result' ? 64 + 2 * ev.data.length : 64;
}
