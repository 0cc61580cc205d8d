/**
 * Everything that differs between Node, Bun and Deno lives here, so the rest of the code is runtime-agnostic.
 * All three implement node:process and node:fs; the differences are in what is fast and in a few edge behaviours.
 */
import process from 'node:process';

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

export function writeErr(line: string): void {
  process.stderr.write(line.endsWith('\n') ? line : line + '\n');
}
