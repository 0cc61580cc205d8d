/**
 * Worker-thread side of pipeline/parallel.ts (an entry point, like cli.ts): builds the same stateless stages from the same argv and processes the
 * ranges of stdin it is given.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkProcessor } from './pipeline/chunk.js';
import { RangeReader } from './io/filerange.js';
import { maxLineFromEnv } from './codec/ndjson.js';
import type { Task } from './pipeline/parallel.js';
import { commands } from '../commands/index.js';

const port = parentPort!;
const proc = await ChunkProcessor.create(workerData.segments as string[][], commands, true);
let reader: RangeReader | undefined;
port.on('message', (m: Task | { end: true }) => {
  if ('end' in m) {
    port.postMessage({ counters: proc.counters() });
    return;
  }
  const res = proc.processRange((reader ??= new RangeReader(0, maxLineFromEnv())), ...m.range);
  const out = res.out;
  // Hand the output back without copying when it owns its whole backing store; otherwise copy exactly its bytes
  // (Buffer#slice is a view, and Buffer.from may over-allocate or use the shared pool).
  let ab: ArrayBuffer;
  if (out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) ab = out.buffer as ArrayBuffer;
  else {
    ab = new ArrayBuffer(out.byteLength);
    new Uint8Array(ab).set(out);
  }
  port.postMessage({ seq: m.seq, out: ab, len: out.byteLength, lines: res.lines, recordsIn: res.recordsIn, records: res.records, end: res.end, failure: res.failure }, [ab]);
});
port.postMessage({ ready: true });
