/**
 * Everything that differs between Node, Bun and Deno lives here, so the rest of the code is runtime-agnostic.
 * All three implement node:process and node:fs; the differences are in what is fast and in a few edge behaviours.
 */
import process from 'node:process';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export type RuntimeName = 'node' | 'bun' | 'deno';

export const runtime: RuntimeName =
  typeof (globalThis as any).Deno !== 'undefined' ? 'deno' : typeof (globalThis as any).Bun !== 'undefined' ? 'bun' : 'node';

export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** Progress lines are for people watching a terminal; never in CI, under --quiet, or when stderr is redirected. */
export function showProgress(quiet: boolean): boolean {
  return !quiet && !isCI() && !!process.stderr.isTTY;
}

/** Monotonic clock in milliseconds with sub-millisecond resolution. */
export const now: () => number = () => performance.now();

/** Wall clock in epoch milliseconds with sub-millisecond resolution (for latency against record timestamps). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Event-loop delay since the last reset, in ms (see eventLoopDelay). */
export interface LoopDelaySample {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoopDelay {
  /** The delay sampled since the last reset; undefined before the first sample. */
  read(): LoopDelaySample | undefined;
  reset(): void;
  stop(): void;
}

/**
 * Event-loop delay sampled every `resolutionMs`, where the runtime has monitorEventLoopDelay (Node, Bun, Deno).
 * Node's histogram holds each sampling interval whole — an idle loop reads the resolution itself — while Bun's and
 * Deno's hold the delay alone: read() gives the delay beyond the interval on all three.
 */
export function eventLoopDelay(resolutionMs: number): LoopDelay | undefined {
  let h: ReturnType<typeof monitorEventLoopDelay>;
  try {
    h = monitorEventLoopDelay({ resolution: resolutionMs });
    h.enable();
  } catch {
    return undefined;
  }
  const interval = runtime === 'node' ? resolutionMs : 0;
  const ms = (ns: number): number => Math.max(0, Math.round(ns / 1e3) / 1e3 - interval);
  return {
    read: () => (Number.isFinite(h.mean) && h.count !== 0 ? { mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) } : undefined),
    reset: () => h.reset(),
    stop: () => h.disable(),
  };
}

export function writeErr(line: string): void {
  process.stderr.write(line.endsWith('\n') ? line : line + '\n');
}
