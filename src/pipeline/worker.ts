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
  // Hand the output back without copying when it owns its whole buffer.
  const ab = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out.buffer : out.slice().buffer;
  port.postMessage({ seq: m.seq, out: ab, lines: res.lines, failure: res.failure }, [ab as ArrayBuffer]);
});
port.postMessage({ ready: true });
