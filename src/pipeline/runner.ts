import type { Rec } from './record.js';
import type { LineSpans } from './spans.js';
import { Interrupt, STOP } from './interrupt.js';
import { isTasked, type Sink, type Source, type Stage, type StateBackend } from './stage.js';
import { Chain, PartialFailure } from './chain.js';
import type { RunMetrics } from '../report/run-metrics.js';
export type { StateBackend } from './stage.js';

/**
 * Runs source → stages → sink. The same runner serves a lone stage between stdin and stdout (piped mode) and a
 * chain of stages after a "+" (fused mode); only the source, stage list and sink differ.
 *
 * Each batch is pushed through every stage synchronously, then written once; the only awaits are per batch.
 * A source learns a batch is done (ack) only after the sink acknowledged everything derived from it, which is
 * what at-least-once offset commits rely on.
 */
export interface Pipeline {
  source: Source;
  stages: Stage[] | Chain;
  sink: Sink;
  /** Period of stage ticks (processing-time windows, idle flush); default 200 ms. */
  tickMs?: number;
  /** Resolves when the run should stop early (Ctrl-C): in-flight work drains, windows end, the sink flushes. */
  stop?: Promise<void>;
  clock?: () => number;
  /** Where stateful stages checkpoint (a changelog topic); restored before the first batch. */
  state?: StateBackend;
  /**
   * With state: checkpoint (and then acknowledge the batches since, which commits their offsets) at most this
   * often, default 1000 ms — the commit interval of Kafka Streams. A changed accumulator is written once per
   * checkpoint, not once per batch. Sources that acknowledge every batch (transactions) checkpoint every batch.
   */
  checkpointMs?: number;
  /** With --metrics: counted per batch (records in and out, stage times, latency); the parts read when scraped. */
  metrics?: RunMetrics;
  /** What --metrics reads as the run's source when scraped, if not `source` (a repartitioned run: both topics' lag). */
  meteredSource?: Pick<Source, 'name' | 'counters' | 'metrics'>;
}


/** Data records of a batch: control records (watermarks, the `$window` line) are not records to a reader of metrics. */
function dataRecords(recs: Rec[]): number {
  let n = 0;
  for (let i = 0; i < recs.length; i++) if (recs[i].ctl === undefined) n++;
  return n;
}

/** Counts a batch handed to the sink, and samples its last timed record's latency: once per batch. */
function written(metrics: RunMetrics | undefined, recs: Rec[]): void {
  if (!metrics || recs.length === 0) return;
  metrics.recordsWritten(dataRecords(recs));
  for (let i = recs.length - 1; i >= 0 && i >= recs.length - 4; i--) {
    const r = recs[i];
    if (r.ctl !== undefined) continue;
    if (r.ts !== undefined) metrics.latencyOf(r.ts);
    break;
  }
}

async function deliver(sink: Sink, res: Rec[] | PartialFailure, metrics?: RunMetrics): Promise<void> {
  written(metrics, res instanceof PartialFailure ? res.out : res);
  if (res instanceof PartialFailure) {
    if (sink.abort) {
      await sink.abort();
      throw res.error;
    }
    if (res.out.length) await sink.write(res.out);
    await sink.end();
    throw res.error;
  }
  if (res.length) await sink.write(res);
}

/** A source's failure, told apart from the rest so that what was read before it still reaches the sink. */
class SourceFailure {
  constructor(readonly error: unknown) {}
}

const TICK = Symbol('tick');
const CHECKPOINT = Symbol('checkpoint');

export async function runPipeline(p: Pipeline): Promise<'ended' | 'stopped'> {
  const { source, sink } = p;
  const chain = p.stages instanceof Chain ? p.stages : new Chain(p.stages);
  source.plan = chain.plan(sink.reads);
  // A sink may keep writes in flight (Kafka produce) when no source waits for acknowledgements to commit offsets.
  sink.pipelined = !source.ack;
  const tickMs = p.tickMs ?? 200;
  const clock = p.clock ?? Date.now;
  const interrupt = p.stop ? new Interrupt(p.stop) : undefined;
  const { metrics } = p;
  if (metrics) {
    chain.metrics = metrics;
    metrics.watch(p.meteredSource ?? source, chain.stages, sink);
  }
  let how: 'ended' | 'stopped' = 'ended';

  const { stateful } = chain;
  // partitioned state: the stateful span runs once per input partition, restored as the source is assigned them
  const tasks = chain.stages.find(isTasked);
  const state = stateful.length || tasks ? p.state ?? source.state : undefined;
  if (state) state.keeps = tasks ? tasks.keeps : stateful.map((s) => s.name);
  if (state && tasks) state.tasks = tasks;
  else if (state && source.restoresState) state.deferredTo = stateful;
  else if (state) await state.restore(stateful);
  // Batches whose output the sink acknowledged, waiting for the next checkpoint before their offsets commit.
  let unacked: Rec[][] = [];
  const every = state && source.ack && !source.ackEachBatch ? p.checkpointMs ?? source.checkpointMs ?? 1000 : 0;
  let lastCheckpoint = clock();
  // A clock tick's output changed state (a stream–stream join emitting for side records, an idle flush): the next
  // checkpoint is due by the interval even with no batch waiting for one, or a restart would repeat all of it.
  let tickMoved = false;
  /** State changes and the input position they include, then the batches' acks (offset commits), in that order. */
  const checkpoint = async (): Promise<void> => {
    const done = unacked;
    unacked = [];
    tickMoved = false;
    lastCheckpoint = clock();
    if (state) {
      const changes = tasks ? tasks.drainChanges() : chain.drainChanges();
      if (changes.length) await state.persist(changes, source.positions ? done.flatMap((b) => source.positions!(b)) : []);
    }
    if (source.ack) for (const b of done) await source.ack(b);
  };
  // A tasked run's source asks for a checkpoint before its partitions may move (a rebalance): served by the loop
  // below between batches, so the state saved and the position it includes always match.
  let asked: (() => void)[] = [];
  let wakeAsked: (() => void) | undefined;
  if (state && tasks) {
    state.checkpointNow = () =>
      new Promise<void>((resolve) => {
        asked.push(resolve);
        wakeAsked?.();
      });
  }
  // With nothing between them, a sink that writes lines as they are takes them from the source as byte spans.
  const writeLines = chain.length === 0 && source.lines ? sink.writeLines : undefined;
  const it = (writeLines ? source.lines!() : source.batches())[Symbol.asyncIterator]();
  try {
    // side inputs (a join's table) are loaded before the source is read: no record meets a half-loaded table
    const opening = chain.open();
    opening.catch(() => undefined);
    // stopped meanwhile: the loop below sees it before its first batch and ends the run the usual way
    if (!interrupt || (await Promise.race([opening, interrupt.wait()])) !== STOP) await opening;
    // The next batch is read while this one is written: a source failing meanwhile (a bad line under --on-error
    // fail) rejects before anyone awaits it, which must not count as an unhandled rejection; it is thrown where
    // the loop awaits it, after the batches before it were written.
    // Whether the batch read ahead is there already: a checkpoint asked for before a rebalance comes after it, since
    // the source handed it out before it stopped handing out (its records are this member's to process and save).
    let nextSettled = false;
    const ahead = () => {
      nextSettled = false;
      const p = it.next().catch((e: unknown) => {
        throw new SourceFailure(e);
      });
      p.then(
        () => (nextSettled = true),
        () => (nextSettled = true),
      );
      return p;
    };
    // stopped while the side inputs loaded: the source is not started at all
    let next = interrupt?.stopped ? Promise.resolve({ done: true, value: undefined } as IteratorResult<Rec[] | LineSpans>) : ahead();
    try {
      for (;;) {
        // a stop request first: a read-ahead batch that is ready wins every race against it (Promise.race takes the
        // first settled promise in order), and a source that always has one would never let it through
        if (interrupt?.stopped) {
          how = 'stopped';
          break;
        }
        if (asked.length && !nextSettled) {
          const waiting = asked;
          asked = [];
          await checkpoint();
          for (const w of waiting) w();
          continue;
        }
        let res: IteratorResult<Rec[] | LineSpans> | typeof TICK | typeof STOP | typeof CHECKPOINT;
        const due = unacked.length || tickMoved ? lastCheckpoint + every - clock() : Infinity;
        if (!chain.ticks && !interrupt && due === Infinity && !state?.checkpointNow) {
          res = await next;
        } else {
          let timer: ReturnType<typeof setTimeout> | undefined;
          let cpTimer: ReturnType<typeof setTimeout> | undefined;
          const racers: Promise<IteratorResult<Rec[] | LineSpans> | typeof TICK | typeof STOP | typeof CHECKPOINT>[] = [next];
          if (chain.ticks) racers.push(new Promise((r) => (timer = setTimeout(() => r(TICK), tickMs))));
          if (due !== Infinity) racers.push(new Promise((r) => (cpTimer = setTimeout(() => r(CHECKPOINT), Math.max(0, due)))));
          if (interrupt) racers.push(interrupt.wait());
          if (state?.checkpointNow) racers.push(new Promise((r) => (wakeAsked = () => r(CHECKPOINT))));
          res = await Promise.race(racers);
          wakeAsked = undefined;
          if (timer) clearTimeout(timer);
          if (cpTimer) clearTimeout(cpTimer);
        }
        if (res === STOP) { how = 'stopped'; break; }
        if (res === CHECKPOINT) {
          // (asked for: served at the top of the loop, with the others that asked meanwhile)
          if (!asked.length) await checkpoint();
          continue;
        }
        if (res === TICK) {
          const out = chain.tick(clock());
          await deliver(sink, out, metrics);
          if (state && every > 0 && !(out instanceof PartialFailure) && out.length) tickMoved = true;
          // every batch a transaction: the tick's output and state changes go into one of their own, now (a quiet
          // input might bring no batch to carry them for a long time)
          if (source.ackEachBatch && source.commitTick && !(out instanceof PartialFailure) && out.length) {
            await checkpoint();
            await source.commitTick();
          }
          continue;
        }
        if (res.done) break;
        const batch = res.value;
        next = ahead();
        if (!Array.isArray(batch)) {
          // lines only come from sources without acknowledgements or state (stdin)
          if (metrics) {
            metrics.recordsRead(batch.count);
            metrics.recordsWritten(batch.count);
          }
          await writeLines!.call(sink, batch);
          continue;
        }
        if (metrics) metrics.recordsRead(dataRecords(batch));
        await deliver(sink, chain.push(batch), metrics);
        unacked.push(batch);
        if (clock() - lastCheckpoint >= every) await checkpoint();
      }
    } catch (e) {
      if (!(e instanceof SourceFailure)) throw e;
      // What the source gave before it failed is written (a sink that writes as it goes has done so already),
      // unless it is in an open transaction, which is dropped; stages keep what they hold.
      try {
        await (sink.abort ? sink.abort() : sink.endFailed ? sink.endFailed() : sink.end());
      } catch {
        // the source's failure is the one to report
      }
      throw e.error;
    }
    // End of input: a stage joining a second stream reads it to the end offsets seen at start first (a stop
    // request meanwhile ends the wait: what was read goes through end as it would at any stop).
    if (how === 'ended') {
      const settling = chain.settle();
      if (interrupt && (await Promise.race([settling, interrupt.wait()])) === STOP) {
        settling.catch(() => undefined);
        how = 'stopped';
      } else await settling;
    }
    // End of input (or a requested stop): every stage flushes its state into the next one, in order — except
    // that a stop keeps checkpointed state as it is (open windows stay open), for the restarted run to go on.
    const carry = chain.end(how === 'stopped' && state !== undefined);
    written(metrics, carry);
    if (carry.length) await sink.write(carry);
    // state before the sink's end: under --exactly-once the end commits the last transaction, state writes in it
    await checkpoint();
    await sink.end();
  } finally {
    // a rebalance waiting for a checkpoint goes on (what the run saved is all it will save)
    for (const w of asked) w();
    asked = [];
    try {
      await source.close?.();
      await state?.close?.();
    } finally {
      await chain.close();
    }
  }
  return how;
}

/** Non-zero counters of every part, for the exit report ("filter: skipped=3"). */
export function collectCounters(parts: { name: string; counters?(): Record<string, number> }[]): [string, Record<string, number>][] {
  const res: [string, Record<string, number>][] = [];
  for (const p of parts) {
    const c = p.counters?.();
    if (c && Object.values(c).some((v) => v)) res.push([p.name, c]);
  }
  return res;
}
