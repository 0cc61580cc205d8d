import os from 'node:os';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { Worker } from 'node:worker_threads';
import { Interrupt, STOP } from './interrupt.js';
import { ChunkProcessor, LINE_MARK, type ChunkResult } from './chunk.js';
import { LineFramer, LineTooLong } from '../codec/ndjson.js';
import { readChunks } from '../io/stdio.js';
import { KsError, RuntimeError } from './errors.js';
import type { Segment } from './assemble.js';
import type { Stage } from './stage.js';
import { runtime } from '../runtime.js';

/**
 * Spreads a chain of stateless stages (map, filter, flatmap) over worker threads when it reads a large NDJSON
 * input from stdin and writes stdout. The main thread only reads, frames whole lines and writes results back in
 * input order; workers decode, run the stages and encode, each on whole chunks handed over without copying.
 * Small inputs never pay for threads: the first few megabytes run inline, and workers start only beyond that.
 */
const INLINE_BYTES = 8 * 1024 * 1024;

export function workerCount(): number {
  const env = process.env.KSTREAM_WORKERS;
  if (env !== undefined && env !== '') return Math.max(0, Math.floor(Number(env)) || 0);
  if (runtime !== 'node') return 0; // worker_threads exist on Bun and Deno, but the single-thread path is the tested one there
  return Math.min(4, Math.max(0, (os.availableParallelism?.() ?? os.cpus().length)));
}

/** Stateless stages only, no dead-letter file (one writer per file), and threads available. */
export function canRunParallel(segments: Segment[], stages: Stage[]): boolean {
  if (workerCount() < 1 || stages.length === 0 || stages.length !== segments.length) return false;
  return stages.every((s) => s.stateless) && segments.every((s) => !String(s.opts.onError ?? '').startsWith('dlq='));
}

interface Pending {
  seq: number;
  done: Promise<ChunkResult>;
}

class Pool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (r: ChunkResult) => void>();
  private next = 0;
  ready: Promise<void>;

  constructor(n: number, segments: string[][]) {
    const url = new URL('./worker.js', import.meta.url);
    const readies: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { workerData: { segments } });
      readies.push(new Promise((resolve, reject) => {
        w.once('error', reject);
        w.once('message', () => resolve());
      }));
      w.on('message', (m: { seq?: number; out?: ArrayBuffer; len?: number; lines?: number; failure?: ChunkResult['failure'] }) => {
        if (m.seq === undefined) return;
        const cb = this.waiting.get(m.seq)!;
        this.waiting.delete(m.seq);
        cb({ out: new Uint8Array(m.out!, 0, m.len!), lines: m.lines!, failure: m.failure });
      });
      this.workers.push(w);
    }
    this.ready = Promise.all(readies).then(() => undefined);
  }

  submit(seq: number, bytes: Uint8Array): Promise<ChunkResult> {
    const w = this.workers[this.next++ % this.workers.length];
    const ab = bytes.buffer as ArrayBuffer;
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve);
      w.postMessage({ seq, buf: ab }, [ab]);
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
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Waits for 'drain' (or the reader going away), leaving no listener behind. */
export function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}

/** Returns per-stage counters summed over threads. Throws the first record failure after writing what preceded it. */
export async function runParallel(argvSegments: string[][], stop: Promise<void>): Promise<{ counters: Record<string, Record<string, number>>; stopped: boolean }> {
  const inline = await ChunkProcessor.create(argvSegments);
  const framer = new LineFramer();
  const maxInFlight = workerCount() * 3;
  let pool: Pool | undefined;
  let seen = 0;
  let seq = 0;
  let baseLine = 0; // lines before the next result to write
  const queue: Pending[] = [];
  const out = process.stdout;
  let gone = false;
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') gone = true;
    else throw e;
  });

  const write = async (res: ChunkResult): Promise<void> => {
    if (res.out.byteLength && !gone) {
      if (!out.write(res.out)) await drained(out);
    }
    if (res.failure && !gone) {
      const msg = res.failure.message.replace(new RegExp(`${LINE_MARK}(\\d+)${LINE_MARK}`, 'g'), (_, n) => String(baseLine + Number(n)));
      throw new KsError(msg, res.failure.exitCode, res.failure.hint);
    }
    baseLine += res.lines;
  };
  const drainTo = async (n: number) => {
    while (queue.length > n) await write(await queue.shift()!.done);
  };
  const handle = async (bytes: Buffer) => {
    seen += bytes.byteLength;
    if (seen <= INLINE_BYTES || gone) {
      await write(inline.process(bytes));
      return;
    }
    if (!pool) {
      pool = new Pool(workerCount(), argvSegments);
      await pool.ready;
    }
    // An owned copy: the read buffer may belong to a shared pool, and the copy is what gets transferred.
    const own = new Uint8Array(bytes.byteLength);
    own.set(bytes);
    const s = seq++;
    queue.push({ seq: s, done: pool.submit(s, own) });
    await drainTo(maxInFlight);
  };

  let stopped = false;
  const interrupt = new Interrupt(stop);
  try {
    const it = readChunks()[Symbol.asyncIterator]();
    for (;;) {
      const r = await Promise.race([it.next(), interrupt.wait()]);
      if (r === STOP) { stopped = true; break; }
      if (r.done || gone) break;
      const bytes = framer.push(r.value);
      if (bytes) await handle(bytes);
    }
    // After a stop or a closed stdout the carried-over bytes are a cut line, not a record.
    const tail = stopped || gone ? undefined : framer.end();
    if (tail) await handle(tail);
    await drainTo(0);
    const all = [inline.counters(), ...(pool ? await pool.counters() : [])];
    const sum: Record<string, Record<string, number>> = {};
    for (const c of all) {
      for (const [stage, m] of Object.entries(c)) {
        const t = (sum[stage] ??= {});
        for (const [k, v] of Object.entries(m)) t[k] = (t[k] ?? 0) + v;
      }
    }
    if (!gone) await new Promise<void>((r) => out.write('', () => r()));
    return { counters: sum, stopped };
  } catch (e) {
    if (e instanceof LineTooLong) {
      // Lines are counted by the results, so write everything before the long line first: then it is the next one.
      await drainTo(0);
      throw new RuntimeError(`stdin line ${baseLine + 1}: line longer than ${e.limit} bytes`, 'is the input NDJSON, one record per line? (KSTREAM_MAX_LINE raises the limit)');
    }
    throw e;
  } finally {
    await pool?.close();
  }
}
