/**
 * Worker-thread side of parallel.ts: builds the same stateless stages from the same argv and processes chunks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkProcessor } from './chunk.js';

const port = parentPort!;
const proc = await ChunkProcessor.create(workerData.segments as string[][]);
port.on('message', (m: { seq: number; buf: ArrayBuffer } | { end: true }) => {
  if ('end' in m) {
    port.postMessage({ counters: proc.counters() });
    return;
  }
  const res = proc.process(new Uint8Array(m.buf));
  const out = res.out;
  // Hand the output back without copying when it owns its whole backing store; otherwise copy exactly its bytes
  // (Buffer#slice is a view, and Buffer.from may over-allocate or use the shared pool).
  let ab: ArrayBuffer;
  if (out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) ab = out.buffer as ArrayBuffer;
  else {
    ab = new ArrayBuffer(out.byteLength);
    new Uint8Array(ab).set(out);
  }
  port.postMessage({ seq: m.seq, out: ab, len: out.byteLength, lines: res.lines, failure: res.failure }, [ab]);
});
port.postMessage({ ready: true });
