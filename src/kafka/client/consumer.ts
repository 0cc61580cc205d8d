/**
 * The consumer behind KafkaConsumer: one fetch loop per partition leader, each keeping one Fetch request in
 * flight while the pipeline works on the previous response, all feeding one bounded queue.
 *
 * Without a group the consumer assigns itself the partitions and nothing is written to the cluster: no group is
 * joined, nothing is committed (like kcat -C). With a group it runs the classic consumer-group protocol itself
 * (join, sync with a round-robin assignment computed by the leader, heartbeats, rejoin on rebalance) using
 * kafkajs's request methods, and commits only what the caller acknowledged.
 */
import type { FetchedPartition } from '../protocol/records.js';
import type { ConsumerOptions, KafkaConsumer, PartitionProgress, TopicPartition, TopicPartitionOffset } from '../types.js';
import { tpKey } from '../types.js';
import { assignerProtocol, protocolError, type Broker, type FetchPartitionRequest, type Wire } from '../transport/kafkajs.js';
import { isTransient, kafkaError } from '../errors.js';
import { RuntimeError } from '../../pipeline/errors.js';

const MAX_QUEUED = 2;
/** A member that stops heartbeating (killed) leaves the group after this long; brokers allow 6 s at least. */
const SESSION_TIMEOUT_MS = 30_000;
const PROTOCOL = 'roundrobin';

interface Position extends TopicPartition {
  key: string;
  offset: number;
  stop: number;
  /** Decompressed bytes per fetched byte in the partition's last fetch (1: uncompressed). */
  expansion: number;
  /** Where the partition's log ends for this reader (high watermark, or last stable offset under read_committed), as of its last fetch. */
  end?: number;
  /** The join that assigned the partition (kept while it stays assigned): records fetched under another one are stale. */
  since: number;
}

/** Fetches ask for at least this much per partition, however well the records compress. */
const MIN_FETCH_BYTES = 64 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors of a partition in a fetch that a metadata refresh and a new fetch fix. */
const REFETCH = new Set([3, 5, 6, 9, 13, 74, 75, 76]);
const OFFSET_OUT_OF_RANGE = 1;
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'GROUP_LOAD_IN_PROGRESS']);

export class WireConsumer implements KafkaConsumer {
  private positions = new Map<string, Position>();
  private readonly queue: FetchedPartition[][] = [];
  private wake: (() => void) | undefined;
  private spaceWaiters: (() => void)[] = [];
  private failure: unknown;
  private closed = false;
  /** Bumped whenever the assignment or leaders change: loops of an older epoch stop. */
  private epoch = 0;
  private loops: Promise<void>[] = [];
  private member: GroupMember | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private resetting: Promise<void> | undefined;

  constructor(private readonly wire: Wire, private readonly opts: ConsumerOptions) {}

  assignment(): TopicPartition[] {
    return [...this.positions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  owns(fp: FetchedPartition): boolean {
    const p = this.positions.get(tpKey(fp.topic, fp.partition));
    return p !== undefined && p.since === this.fetchedUnder.get(fp);
  }

  progress(): PartitionProgress[] {
    const res: PartitionProgress[] = [];
    for (const p of this.positions.values()) res.push({ topic: p.topic, partition: p.partition, fetched: p.offset, end: p.end });
    return res;
  }

  stopAt(ends: Map<string, number>): void {
    (this.opts as { stopAt?: Map<string, number> }).stopAt = ends;
    for (const p of this.positions.values()) p.stop = ends.get(p.key) ?? 0;
    this.wakeLoops();
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    this.notify();
  }

  /** True when every assigned partition reached its stop offset (only with stopAt). */
  private finished(): boolean {
    if (!this.opts.stopAt) return false;
    for (const p of this.positions.values()) if (p.offset < p.stop) return false;
    return true;
  }

  async *batches(): AsyncGenerator<FetchedPartition[]> {
    try {
      await this.wire.connect();
      for (const t of this.opts.topics) await this.wire.partitions(t);
      if (this.opts.group) {
        this.member = new GroupMember(this.wire, this.opts.group, this.opts.topics, this.opts.instanceId, (e) => this.fail(e));
        await this.rejoin();
        this.heartbeatTimer = setInterval(() => this.heartbeat(), 3000);
        this.heartbeatTimer.unref?.();
      } else {
        const all: TopicPartition[] = [];
        for (const topic of this.opts.topics) {
          const meta = await this.wire.partitions(topic);
          for (const p of meta.partitions) if (!this.opts.partitions || this.opts.partitions.includes(p.partition)) all.push({ topic, partition: p.partition });
        }
        this.assign(all, await this.opts.start(all, undefined));
        this.startLoops();
      }
    } catch (e) {
      throw kafkaError(e, { cfg: this.wire.cfg, topic: this.opts.topics[0], group: this.opts.group });
    }
    for (;;) {
      if (this.queue.length) {
        // records of partitions the group took away since they were fetched are someone else's now
        const next = this.queue.shift()!.filter((fp) => this.owns(fp));
        this.wakeLoops();
        if (next.length) yield next;
        continue;
      }
      if (this.failure !== undefined) throw kafkaError(this.failure, { cfg: this.wire.cfg, topic: this.opts.topics[0], group: this.opts.group });
      if (this.closed || this.finished()) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private assign(tps: TopicPartition[], starts: Map<string, number>): void {
    const next = new Map<string, Position>();
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition);
      const kept = this.positions.get(key);
      const offset = kept ? kept.offset : starts.get(key) ?? 0;
      const stop = this.opts.stopAt ? this.opts.stopAt.get(key) ?? 0 : Infinity;
      next.set(key, { ...tp, key, offset, stop, expansion: kept ? kept.expansion : 1, since: kept ? kept.since : this.joins });
    }
    this.positions = next;
  }

  /** (Re)starts one fetch loop per leader for the current positions. */
  private startLoops(): void {
    const epoch = ++this.epoch;
    const byLeader = new Map<number, Position[]>();
    for (const p of this.positions.values()) {
      let leader = -1;
      try {
        leader = this.wire.cluster.findTopicPartitionMetadata(p.topic).find((m) => m.partitionId === p.partition)?.leader ?? -1;
      } catch {
        leader = -1;
      }
      let l = byLeader.get(leader);
      if (!l) byLeader.set(leader, (l = []));
      l.push(p);
    }
    if (byLeader.has(-1)) {
      // a partition without a leader right now: refresh and retry shortly
      this.reset(500);
      return;
    }
    this.loops = [...byLeader].map(([leader, parts]) => this.fetchLoop(epoch, leader, parts));
    this.notify();
  }

  /** Stops the loops, refreshes metadata and starts them again (leader moved, partition error). */
  private reset(delayMs = 0): void {
    if (this.resetting) return;
    this.epoch++;
    this.wakeLoops();
    this.resetting = (async () => {
      try {
        await this.loopsStopped();
        if (delayMs) await sleep(delayMs);
        for (let attempt = 0; ; attempt++) {
          if (this.closed) return;
          try {
            await this.wire.refresh();
            break;
          } catch (e) {
            // the brokers are away (restarting): keep trying while the outage is young
            if (!isTransient(e)) throw e;
            await sleep(this.wire.outage.failed(e, attempt));
          }
        }
        this.resetting = undefined;
        this.startLoops();
      } catch (e) {
        this.resetting = undefined;
        this.fail(e);
      }
    })();
  }

  /**
   * Waits for the fetch loops of an older epoch (or of a closing consumer) to end: a fetch in flight ends within
   * its wait (--fetch-wait). Bounded, for every caller alike: a fetch that is never answered (a broker that stopped
   * answering, a connection kafkajs closed under it) must not hold a close, a reset or a rejoin for good — a loop
   * of an older epoch that ends later drops what it fetched.
   */
  private async loopsStopped(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled(this.loops), new Promise((r) => (timer = setTimeout(r, (this.opts.maxWaitMs ?? 500) + 2000)))]);
    clearTimeout(timer);
  }

  private async fetchLoop(epoch: number, leader: number, parts: Position[]): Promise<void> {
    const { isolation } = this.opts;
    const maxWait = this.opts.maxWaitMs ?? 500;
    const maxBytes = this.opts.maxBytes ?? 16 * 1024 * 1024;
    const partBytes = this.opts.maxPartitionBytes ?? 4 * 1024 * 1024;
    try {
      while (epoch === this.epoch && !this.closed && this.failure === undefined) {
        if (this.member?.needsRejoin) {
          void this.rejoinInBackground();
          return;
        }
        if (this.queue.length >= MAX_QUEUED) {
          await new Promise<void>((r) => this.spaceWaiters.push(r));
          continue;
        }
        const active = parts.filter((p) => p.offset < p.stop);
        if (active.length === 0) {
          this.notify();
          return;
        }
        // The byte limits are of records as they come (compressed): they are divided by how much each partition's
        // records grew when decompressed, so a fetch of a compressed topic holds as many records as one of an
        // uncompressed topic. Without it, a fetch of lz4 clicks held 3.5× the records, and the pipeline batches of
        // that size cost more in garbage collection than decompressing them did.
        // The floor never raises a limit the user set lower (--fetch-max 4k commits every few records).
        const req: FetchPartitionRequest[] = active.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset, maxBytes: Math.max(Math.min(MIN_FETCH_BYTES, partBytes), Math.floor(partBytes / p.expansion)) }));
        const most = Math.max(...active.map((p) => p.expansion));
        const res = await this.wire.fetch(leader, isolation, maxWait, 1, Math.max(Math.min(MIN_FETCH_BYTES, maxBytes), Math.floor(maxBytes / most)), req);
        this.wire.outage.ok();
        if (epoch !== this.epoch || this.closed) return;
        const data: FetchedPartition[] = [];
        let needReset = false;
        for (const fp of res) {
          const pos = this.positions.get(tpKey(fp.topic, fp.partition));
          if (!pos) continue;
          if (fp.errorCode === OFFSET_OUT_OF_RANGE) {
            // the offset is gone (retention) or not there yet: restart from the earliest available record
            const starts = await this.wire.listOffsets(fp.topic, [fp.partition], -2, isolation);
            const start = starts.get(fp.partition) ?? 0;
            this.wire.cfg.log?.(`kstream: ${fp.topic}/${fp.partition}: offset ${pos.offset} out of range, continuing at ${start}`);
            pos.offset = start > pos.offset ? start : Math.min(pos.offset, fp.highWatermark);
            continue;
          }
          if (fp.errorCode !== 0) {
            if (REFETCH.has(fp.errorCode)) { needReset = true; continue; }
            throw await protocolError(fp.errorCode, fp.topic, fp.partition);
          }
          if (fp.batches.length) pos.expansion = fp.expansion;
          pos.end = isolation === 'read_committed' ? fp.lastStableOffset : fp.highWatermark;
          if (fp.nextOffset > pos.offset) pos.offset = fp.nextOffset;
          else if (fp.batches.length === 0 && pos.stop !== Infinity && fp.highWatermark <= pos.offset && pos.stop > pos.offset) {
            // the log ends below the stop offset seen at start (truncated after a leader change): nothing more to read
            pos.stop = pos.offset;
          }
          if (pos.stop !== Infinity) trimAt(fp, pos.stop);
          if (fp.batches.length) {
            this.fetchedUnder.set(fp, pos.since);
            data.push(fp);
          }
        }
        if (data.length) {
          this.queue.push(data);
          this.notify();
        } else if (this.finished()) this.notify();
        if (needReset) {
          this.reset(200);
          return;
        }
      }
    } catch (e) {
      if (epoch !== this.epoch || this.closed) return;
      if (isTransient(e)) {
        this.wire.cfg.log?.(`kstream: fetch from broker ${leader} failed (${(e as Error).message}); reconnecting`);
        try {
          this.wire.outage.failed(e);
        } catch (gaveUp) {
          this.fail(gaveUp);
          return;
        }
        this.reset(500);
        return;
      }
      this.fail(e);
    }
  }

  // --- group mode -------------------------------------------------------------------------------------------

  private rejoining: Promise<void> | undefined;
  /** Joins so far: a partition's `since`. */
  private joins = 0;
  /** The `since` of the assignment each fetched partition was fetched under. */
  private readonly fetchedUnder = new WeakMap<FetchedPartition, number>();

  private rejoinInBackground(): Promise<void> {
    if (!this.rejoining) {
      this.rejoining = (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            await this.rejoin();
            return;
          } catch (e) {
            if (!isTransient(e) || this.closed) throw e;
            await sleep(this.wire.outage.failed(e, attempt));
          }
        }
      })()
        .catch((e) => this.fail(e))
        .finally(() => (this.rejoining = undefined));
    }
    return this.rejoining;
  }

  /** Joins (or rejoins) the group, takes the assignment and restarts the fetch loops on it. */
  private async rejoin(): Promise<void> {
    const member = this.member!;
    this.epoch++;
    this.wakeLoops();
    await this.loopsStopped();
    if (this.closed) return;
    const hooks = this.opts.rebalance;
    // eager protocol: what is in flight is finished (committed) before the partitions may go to another member
    const paused = hooks !== undefined && this.positions.size > 0;
    let revoked: TopicPartition[] = [];
    let joined = false;
    try {
      if (paused) await hooks.before();
      // closed meanwhile (a signal while the batch in flight committed): the member leaves instead
      if (this.closed) return;
      await member.flushCommits().catch(() => undefined);
      const assigned = await member.join(() => this.closed);
      if (this.closed) return;
      this.joins++;
      const mine = this.opts.partitions ? assigned.filter((tp) => this.opts.partitions!.includes(tp.partition)) : assigned;
      const keys = new Set(mine.map((tp) => tpKey(tp.topic, tp.partition)));
      revoked = [...this.positions.values()].filter((p) => !keys.has(p.key)).map(({ topic, partition }) => ({ topic, partition }));
      const fresh = mine.filter((tp) => !this.positions.has(tpKey(tp.topic, tp.partition)));
      if (fresh.length && this.opts.onAssign) await this.opts.onAssign(fresh);
      const committed = fresh.length ? await member.committed(fresh, !!this.opts.stableOffsets) : new Map<string, number>();
      const starts = fresh.length ? await this.opts.start(fresh, committed) : new Map<string, number>();
      this.assign(mine, starts);
      joined = true;
    } finally {
      if (paused && !joined) {
        // a failed (or abandoned) rejoin keeps nothing: the partitions may be another member's by now, so what
        // was fetched for them is stale and their producers are released; a retry assigns them afresh
        revoked = [...this.positions.values()].map(({ topic, partition }) => ({ topic, partition }));
        this.positions = new Map();
        this.joins++;
      }
      if (paused) hooks.after(revoked);
    }
    member.owned = new Set(this.positions.keys());
    // offsets acknowledged while the group rebalanced, for partitions still ours
    await member.flushCommits().catch(() => undefined);
    this.startLoops();
  }

  /** Loops waiting for queue space look at the epoch again (and stop when it changed). */
  private wakeLoops(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }

  private heartbeat(): void {
    const m = this.member;
    if (!m || this.closed || this.rejoining || m.needsRejoin) return;
    m.heartbeat().then(
      () => {
        if (m.needsRejoin) void this.rejoinInBackground();
      },
      (e) => {
        // the fetch loops notice (and report) a lost broker; a heartbeat only finds the coordinator again later
        if (isTransient(e)) m.lostCoordinator();
        this.wire.cfg.log?.(`kstream: heartbeat failed: ${(e as Error).message}`);
      },
    );
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (!this.member) return;
    if (this.failure !== undefined) throw kafkaError(this.failure, { cfg: this.wire.cfg, topic: this.opts.topics[0], group: this.opts.group });
    await this.member.commit(offsets);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.epoch++;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.wakeLoops();
    this.notify();
    // the connections close only after the fetches in flight: kafkajs ends a connection's socket when nothing is in
    // flight on it, and a fetch it sends on it after that is never answered, leaving nothing to keep the process
    // alive — a run that failed then exited 0 without a word
    await this.loopsStopped();
    if (this.member) {
      await this.member.flushCommits().catch((e) => this.wire.cfg.log?.(`kstream: final commit failed: ${(e as Error).message}`));
      await this.member.leave().catch(() => undefined);
    }
  }
}

/**
 * One member of a consumer group (classic protocol, eager rebalancing). Commits are coalesced: `commit` records
 * the newest offsets and at most one OffsetCommit is in flight; `flushCommits` waits until all are written.
 */
class GroupMember {
  memberId = '';
  generationId = -1;
  needsRejoin = false;
  owned = new Set<string>();
  private coordinator: Broker | undefined;
  private pending = new Map<string, TopicPartitionOffset>();
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly wire: Wire, readonly groupId: string, private readonly topics: string[], private readonly instanceId: string | undefined,
    /** Where a commit failure that retrying cannot cure goes (it fails the consumer). */
    private readonly fatal: (e: unknown) => void,
  ) {}

  private async coord(): Promise<Broker> {
    if (!this.coordinator) this.coordinator = await this.wire.coordinator(this.groupId);
    return this.coordinator;
  }

  lostCoordinator(): void {
    this.coordinator = undefined;
  }

  /** `closed`: the consumer closed meanwhile — stop retrying (its caller leaves the group). */
  async join(closed: () => boolean = () => false): Promise<TopicPartition[]> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && closed()) return [];
      try {
        const c = await this.coord();
        const request = {
          groupId: this.groupId,
          sessionTimeout: SESSION_TIMEOUT_MS,
          rebalanceTimeout: 60_000,
          memberId: this.memberId,
          groupInstanceId: this.instanceId ?? null,
          protocolType: 'consumer',
          groupProtocols: [{ name: PROTOCOL, metadata: assignerProtocol().MemberMetadata.encode({ version: 0, topics: this.topics, userData: Buffer.alloc(0) }) }],
        };
        let joined;
        try {
          joined = await this.wire.call(c, 'JoinGroup', request);
        } catch (e) {
          // JoinGroup v4+: a new dynamic member is first handed its id and must ask again with it
          if ((e as { name?: string }).name !== 'KafkaJSMemberIdRequired') throw e;
          this.memberId = (e as { memberId: string }).memberId;
          joined = await this.wire.call(c, 'JoinGroup', { ...request, memberId: this.memberId });
        }
        this.memberId = joined.memberId;
        this.generationId = joined.generationId;
        let groupAssignment: { memberId: string; memberAssignment: Buffer }[] = [];
        if (joined.leaderId === joined.memberId) groupAssignment = await this.assign(joined.members);
        const synced = await c.syncGroup({ groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupAssignment });
        this.needsRejoin = false;
        const buf: Buffer | null = synced.memberAssignment;
        if (!buf || buf.length === 0) return [];
        const decoded = assignerProtocol().MemberAssignment.decode(buf);
        if (!decoded) return [];
        return Object.entries(decoded.assignment)
          .filter(([topic]) => this.topics.includes(topic))
          .flatMap(([topic, ps]) => (ps as number[]).map((partition) => ({ topic, partition })));
      } catch (e) {
        const type = (e as { type?: string }).type ?? '';
        if (type === 'FENCED_INSTANCE_ID') {
          throw new RuntimeError(`another member of group \`${this.groupId}\` joined with instance id \`${this.instanceId}\``, 'give every running instance its own --instance-id');
        }
        if (attempt >= 20) throw e;
        if (type === 'UNKNOWN_MEMBER_ID') this.memberId = '';
        else if (COORDINATOR_MOVED.has(type)) this.coordinator = undefined;
        else if (!REJOIN.has(type) && type !== 'MEMBER_ID_REQUIRED') {
          if (isTransient(e)) this.coordinator = undefined;
          throw e;
        }
        await sleep(Math.min(1000, 100 * (attempt + 1)));
      }
    }
  }

  /** Round-robin over the sorted members, across all topics any member subscribed to. */
  private async assign(members: { memberId: string; memberMetadata: Buffer }[]): Promise<{ memberId: string; memberAssignment: Buffer }[]> {
    const subs = new Map<string, string[]>();
    const topics = new Set<string>();
    for (const m of members) {
      const md = assignerProtocol().MemberMetadata.decode(m.memberMetadata);
      const ts = md?.topics ?? [];
      subs.set(m.memberId, ts);
      for (const t of ts) topics.add(t);
    }
    const ids = members.map((m) => m.memberId).sort();
    const out = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
    let i = 0;
    for (const topic of [...topics].sort()) {
      const meta = await this.wire.partitions(topic);
      const eligible = ids.filter((id) => subs.get(id)!.includes(topic));
      for (const p of meta.partitions) {
        const id = eligible[i++ % eligible.length];
        const a = out.get(id)!;
        (a[topic] ??= []).push(p.partition);
      }
    }
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: assignerProtocol().MemberAssignment.encode({ version: 0, assignment: out.get(memberId)!, userData: Buffer.alloc(0) }),
    }));
  }

  async heartbeat(): Promise<void> {
    try {
      const c = await this.coord();
      await c.heartbeat({ groupId: this.groupId, groupGenerationId: this.generationId, memberId: this.memberId });
    } catch (e) {
      const type = (e as { type?: string }).type ?? '';
      if (REJOIN.has(type)) {
        if (type === 'UNKNOWN_MEMBER_ID') this.memberId = '';
        this.needsRejoin = true;
        return;
      }
      if (COORDINATOR_MOVED.has(type)) {
        this.coordinator = undefined;
        return;
      }
      throw e;
    }
  }

  async committed(tps: TopicPartition[], stable = false): Promise<Map<string, number>> {
    if (stable) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.wire.committedStable(await this.coord(), this.groupId, tps);
        } catch (e) {
          const type = (e as { type?: string }).type ?? '';
          if (!COORDINATOR_MOVED.has(type) || attempt >= 20) throw e;
          this.coordinator = undefined;
          await sleep(Math.min(1000, 100 * (attempt + 1)));
        }
      }
    }
    const byTopic = new Map<string, { partition: number }[]>();
    for (const tp of tps) {
      let l = byTopic.get(tp.topic);
      if (!l) byTopic.set(tp.topic, (l = []));
      l.push({ partition: tp.partition });
    }
    const c = await this.coord();
    const res = await c.offsetFetch({ groupId: this.groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
    const out = new Map<string, number>();
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const off = Number(p.offset);
        if (off >= 0) out.set(tpKey(t.topic, p.partition), off);
      }
    }
    return out;
  }

  /**
   * Records offsets to commit and starts writing them in the background (at most one OffsetCommit in flight).
   * A failed write keeps them pending: a lost coordinator is looked up again and the write retried while the
   * outage is young; anything else fails the consumer.
   */
  commit(offsets: TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) {
      const key = tpKey(o.topic, o.partition);
      const prev = this.pending.get(key);
      if (!prev || prev.offset < o.offset) this.pending.set(key, o);
    }
    this.startDrain();
    return Promise.resolve();
  }

  private startDrain(): void {
    if (this.inflight || this.retryTimer) return;
    this.inflight = this.drain().catch((e) => {
      if (!isTransient(e)) {
        this.fatal(e);
        return;
      }
      try {
        const wait = this.wire.outage.failed(e, this.commitAttempts++);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.startDrain();
        }, wait);
      } catch (gaveUp) {
        this.fatal(gaveUp);
      }
    });
  }

  private commitAttempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  private async drain(): Promise<void> {
    try {
      while (this.pending.size) {
        const batch = [...this.pending.values()].filter((o) => this.owned.has(tpKey(o.topic, o.partition)));
        this.pending.clear();
        if (batch.length === 0) break;
        try {
          await this.send(batch);
          this.commitAttempts = 0;
        } catch (e) {
          const type = (e as { type?: string }).type ?? '';
          // keep what failed, unless newer offsets arrived meanwhile
          for (const o of batch) if (!this.pending.has(tpKey(o.topic, o.partition))) this.pending.set(tpKey(o.topic, o.partition), o);
          if (REJOIN.has(type)) {
            // the group moved on: what we own after the rejoin is committed then
            this.needsRejoin = true;
            break;
          }
          if (COORDINATOR_MOVED.has(type) || isTransient(e)) this.coordinator = undefined;
          throw e;
        }
      }
    } finally {
      this.inflight = undefined;
    }
  }

  private async send(batch: TopicPartitionOffset[]): Promise<void> {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of batch) {
      let l = byTopic.get(o.topic);
      if (!l) byTopic.set(o.topic, (l = []));
      l.push({ partition: o.partition, offset: String(o.offset) });
    }
    const c = await this.coord();
    await c.offsetCommit({
      groupId: this.groupId,
      groupGenerationId: this.generationId,
      memberId: this.memberId,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }

  /** Waits until every offset recorded so far is committed (a few tries; the caller decides what a failure means). */
  async flushCommits(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    for (let i = 0; ; i++) {
      if (this.inflight) await this.inflight;
      if (this.pending.size === 0 || this.needsRejoin) return;
      try {
        this.inflight = this.drain();
        await this.inflight;
      } catch (e) {
        if (i >= 5 || !isTransient(e)) throw e;
        await sleep(200 * (i + 1));
      }
    }
  }

  async leave(): Promise<void> {
    if (!this.memberId) return;
    const c = await this.coord();
    await c.leaveGroup({ groupId: this.groupId, memberId: this.memberId });
  }
}

/** Drops records at or after `stop` (they arrived after the end offsets seen at start). */
function trimAt(fp: FetchedPartition, stop: number): void {
  let keep = 0;
  for (const cols of fp.batches) {
    if (cols.count > 0 && cols.offsets[0] >= stop) break;
    keep++;
    if (cols.offsets[cols.count - 1] >= stop) {
      let n = 0;
      while (n < cols.count && cols.offsets[n] < stop) n++;
      cols.count = n;
      break;
    }
  }
  if (keep < fp.batches.length) fp.batches.length = keep;
}

