import cluster, { type Worker } from 'node:cluster';
import process from 'node:process';
import { RuntimeError } from '../pipeline/errors.js';

/**
 * `serve --workers N`: N gateway processes on one port (node:cluster hands each connection to one of them). Each
 * worker is a whole gateway — its own pipeline member in the group, its own tail of the output topic — so a stream
 * sent to through one worker is served to subscribers on any other, as between gateways on several machines; the
 * workers share only the listening socket. The primary forks them, says where they serve once they all do, starts
 * again one that dies, and passes a stop on.
 */
export function isWorker(): boolean {
  return cluster.isWorker === true;
}

/** In a worker: tells the primary where it serves. */
export function reportServing(url: string): void {
  process.send?.({ kstreamServing: url });
}

const RESTART_MS = 1000;

/** In the primary: runs `n` workers until `stop`; resolves with the exit code of serve. */
export async function runWorkers(n: number, stop: AbortSignal | undefined, log: (line: string) => void, quiet: boolean): Promise<number> {
  let stopping = false;
  let served = 0;
  let failure: number | undefined;
  const workers = new Set<Worker>();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const fork = (): void => {
    const w = cluster.fork({ KSTREAM_SERVE_WORKER: '1' });
    let serving = false;
    workers.add(w);
    w.on('message', (m: { kstreamServing?: string }) => {
      if (typeof m?.kstreamServing !== 'string' || serving) return;
      serving = true;
      if (++served === n) log(`kstream: serving at ${m.kstreamServing} — ${n} worker processes`);
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      if (!stopping && !serving) {
        // a worker that never served failed to start (its reason is on stderr already): so would the others
        failure = code || 1;
        stopping = true;
        for (const o of workers) o.process.kill('SIGTERM');
      } else if (!stopping) {
        if (!quiet) log(`kstream: serve: worker ${w.process.pid} ended (${signal ?? `exit ${code}`}); starting another`);
        setTimeout(() => !stopping && fork(), RESTART_MS);
      }
      if (workers.size === 0 && stopping) done();
    });
  };
  for (let i = 0; i < n; i++) fork();
  const onStop = () => {
    stopping = true;
    for (const w of workers) w.process.kill('SIGTERM');
    if (workers.size === 0) done();
  };
  if (stop?.aborted) onStop();
  stop?.addEventListener('abort', onStop, { once: true });
  await finished;
  if (failure !== undefined) throw new RuntimeError(`a serve worker failed to start (exit ${failure}); its reason is above`);
  return 130;
}
