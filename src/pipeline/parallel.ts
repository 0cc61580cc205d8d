import os from 'node:os';
import type { Commands } from './registry.js';
import process from 'node:process';
import { Worker } from 'node:worker_threads';
import { Interrupt, STOP } from './interrupt.js';
import { ChunkProcessor, LINE_MARK, type ChunkResult } from './chunk.js';
import { LineFramer, LineTooLong, LONG_LINE_HINT, maxLineFromEnv } from '../codec/ndjson.js';
import { readChunks, type StdoutSink } from '../io/stdio.js';
import { advanceStdin, RangeReader, stdinBytes, stdinFile, type StdinFile } from '../io/filerange.js';
import { KsError, RuntimeError } from './errors.js';
import type { Segment } from './assemble.js';
import type { Stage } from './stage.js';
import { runtime } from '../runtime.js';
import type { RunMetrics } from '../report/run-metrics.js';

/**
 * Spreads a chain of stateless stages (map, filter, flatmap) over threads when stdin is a large regular file
 * (`kstream … < file`) and the output goes to stdout. Each thread takes ranges of the file by position, reads
 * them itself, decodes, runs the stages and encodes; the main thread takes ranges too whenever the workers are
 * busy, and writes the results in input order.
 *
 * Pipes stay on one thread (runner.ts): in a shell pipeline every stage is a process already, and on a machine
 * with few cores, threads there cost more than they give (measured on 2 cores: filter | map took 0.8 s with
 * threads against 0.6 s without).
 */
/** Smaller files run on one thread: starting a worker costs about what 8 MB of work does. */
const PARALLEL_BYTES = 8 * 1024 * 1024;
/** A file range one worker takes at a time. */
const RANGE_BYTES = 1 << 20;

export function workerCount(): number {
  const env = process.env.KSTREAM_WORKERS;
  if (env !== undefined && env !== '') return Math.max(0, Math.floor(Number(env)) || 0);
  if (runtime !== 'node') return 0; // worker_threads exist on Bun and Deno, but the single-thread path is the tested one there
  // the main thread works too, so one thread per core but the first
  return Math.min(3, Math.max(0, (os.availableParallelism?.() ?? os.cpus().length) - 1));
}

/**
 * The stdin file to spread over threads: a large file on stdin, stateless stages only, no dead-letter file (one
 * writer per file), and threads available. Undefined otherwise.
 */
export function parallelInput(segments: Segment[], stages: Stage[]): StdinFile | undefined {
  if (workerCount() < 1 || stages.length === 0 || stages.length !== segments.length) return undefined;
  if (!stages.every((s) => s.stateless) || segments.some((s) => String(s.opts.onError ?? '').startsWith('dlq='))) return undefined;
  // the threads read plain NDJSON lines: envelopes go through the one-thread path, which unwraps them
  if (segments.some((s) => s.opts.envelope)) return undefined;
  const file = stdinFile();
  return file !== undefined && file.size - file.pos >= PARALLEL_BYTES ? file : undefined;
}

/** What a worker is asked to do: the lines that start in a range of stdin (io/filerange.ts). */
export interface Task { seq: number; range: [p: number, q: number, lead: boolean] }

interface Reply { seq?: number; ready?: true; out?: ArrayBuffer; len?: number; lines?: number; recordsIn?: number; records?: number; end?: number; failure?: ChunkResult['failure'] }

class Pool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: unknown) => void; worker: number }>();
  /** Tasks in flight per worker: a task goes to the least busy one. */
  private readonly load: number[] = [];
  private starting: number;
  ready = false;
  /** Tasks handed over and not yet answered. */
  get busy(): number {
    return this.waiting.size;
  }
  get size(): number {
    return this.workers.length;
  }

  constructor(n: number, segments: string[][]) {
    const url = new URL('../worker.js', import.meta.url);
    this.starting = n;
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { workerData: { segments } });
      w.on('message', (m: Reply) => {
        if (m.ready) {
          if (--this.starting === 0) this.ready = true;
          return;
        }
        if (m.seq === undefined) return;
        const cb = this.waiting.get(m.seq)!;
        this.waiting.delete(m.seq);
        this.load[cb.worker]--;
        cb.resolve({ out: new Uint8Array(m.out!, 0, m.len!), lines: m.lines!, recordsIn: m.recordsIn!, records: m.records!, end: m.end, failure: m.failure });
      });
      // A worker that dies takes its chunks with it: fail the run rather than wait for them forever.
      w.on('error', (e) => this.failAll(e));
      w.on('exit', (code) => { if (code !== 0) this.failAll(new Error(`worker thread exited with code ${code}`)); });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  private failAll(e: unknown): void {
    for (const cb of this.waiting.values()) cb.reject(e);
    this.waiting.clear();
  }

  submit(task: Task): Promise<ChunkResult> {
    let worker = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[worker]) worker = i;
    this.load[worker]++;
    return new Promise((resolve, reject) => {
      this.waiting.set(task.seq, { resolve, reject, worker });
      this.workers[worker].postMessage(task);
    });
  }

  async counters(): Promise<Record<string, Record<string, number>>[]> {
    return Promise.all(this.workers.map((w) => new Promise<Record<string, Record<string, number>>>((resolve) => {
      const on = (m: { counters?: Record<string, Record<string, number>> }) => {
        if (!m.counters) return;
        w.off('message', on);
        resolve(m.counters);
      };
      w.on('message', on);
      w.postMessage({ end: true });
    })));
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.removeAllListeners('exit');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Chunk results handed to stdout in input order, at most `limit` waiting. The first failure is thrown after what
 * preceded it is written, with its chunk-relative line number made absolute.
 */
class OrderedOutput {
  private readonly queue: Promise<ChunkResult>[] = [];
  /** Lines before the next result to write. */
  lines = 0;
  /** File ranges: the position past the last line taken so far (results come in file order). */
  end: number;

  constructor(private readonly sink: StdoutSink, private readonly limit: number, start: number, private readonly metrics?: RunMetrics) {
    this.end = start;
  }

  async add(res: ChunkResult | Promise<ChunkResult>): Promise<void> {
    this.queue.push(Promise.resolve(res));
    await this.drainTo(this.limit);
  }

  async drainTo(n: number): Promise<void> {
    while (this.queue.length > n) {
      const res = await this.queue.shift()!;
      this.metrics?.recordsRead(res.recordsIn);
      this.metrics?.recordsWritten(res.records);
      await this.sink.writeBytes(res.out);
      if (res.failure) {
        const msg = res.failure.message.replace(new RegExp(`${LINE_MARK}(\\d+)${LINE_MARK}`, 'g'), (_, k) => String(this.lines + Number(k)));
        throw new KsError(msg, res.failure.exitCode, res.failure.hint);
      }
      this.lines += res.lines;
      if (res.end !== undefined) this.end = res.end;
    }
  }
}

/** Returns per-stage counters summed over threads. Throws the first record failure after writing what preceded it. */
export async function runParallel(argvSegments: string[][], commands: Commands, file: StdinFile, sink: StdoutSink, stop: Promise<void>, metrics?: RunMetrics): Promise<{ counters: Record<string, Record<string, number>>; stopped: boolean }> {
  const inline = await ChunkProcessor.create(argvSegments, commands);
  const n = workerCount();
  const output = new OrderedOutput(sink, n * 3 + 1, file.pos, metrics);
  // the stages run in the threads: what the metrics read here is the input's and the output's
  metrics?.watch(undefined, [], sink, false);
  const interrupt = new Interrupt(stop);
  const pool = new Pool(n, argvSegments);
  try {
    // Ranges of the file as it is now; whatever follows its last whole line (a file still growing, or a last
    // line without a newline) is read front to back afterwards.
    const reader = new RangeReader(0, maxLineFromEnv());
    const advanced = advanceStdin(file.size - file.pos);
    let seq = 0;
    for (let a = file.pos; a < file.size && !interrupt.stopped; a += RANGE_BYTES) {
      const range: Task['range'] = [a, Math.min(a + RANGE_BYTES, file.size), a > file.pos];
      if (pool.ready && pool.busy < pool.size * 2) {
        await output.add(pool.submit({ seq: seq++, range }));
      } else {
        // The main thread takes a range itself while the workers start or are busy; yielding then lets their
        // messages through.
        await output.add(inline.processRange(reader, ...range));
        await new Promise((r) => setImmediate(r));
      }
    }
    await output.drainTo(0);
    await advanced;
    const stopped = interrupt.stopped || await readRest();
    await output.drainTo(0);
    const all = [inline.counters(), ...(await pool.counters())];
    const sum: Record<string, Record<string, number>> = {};
    for (const c of all) {
      for (const [stage, m] of Object.entries(c)) {
        const t = (sum[stage] ??= {});
        for (const [k, v] of Object.entries(m)) t[k] = (t[k] ?? 0) + v;
      }
    }
    await sink.end();
    return { counters: sum, stopped };
  } finally {
    await pool.close();
  }

  /**
   * Reads the rest front to back, as a single thread would: what follows the last whole line of the ranges, then
   * whatever the file grew by. Returns whether it was stopped.
   */
  async function readRest(): Promise<boolean> {
    const framer = new LineFramer();
    let stopped = false;
    try {
      if (output.end < file.size) {
        const tail = framer.push(stdinBytes(output.end, file.size - output.end));
        if (tail) await output.add(inline.process(tail));
      }
      const it = readChunks()[Symbol.asyncIterator]();
      for (;;) {
        // the stop first: a chunk that is ready wins every race against it (see runner.ts)
        const r = interrupt.stopped ? STOP : await Promise.race([it.next(), interrupt.wait()]);
        if (r === STOP) { stopped = true; break; }
        if (r.done) break;
        const bytes = framer.push(r.value);
        if (bytes) await output.add(inline.process(bytes));
      }
      // After a stop the carried-over bytes are a cut line, not a record.
      const tail = stopped ? undefined : framer.end();
      if (tail) await output.add(inline.process(tail));
      return stopped;
    } catch (e) {
      if (e instanceof LineTooLong) {
        // Lines are counted by the results, so write everything before the long line first: then it is the next one.
        await output.drainTo(0);
        throw new RuntimeError(`stdin line ${output.lines + 1}: line longer than ${e.limit} bytes`, LONG_LINE_HINT);
      }
      throw e;
    }
  }
}
