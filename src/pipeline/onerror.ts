import fs from 'node:fs';
import type { OnError } from './stage.js';
import { RuntimeError, UsageError } from './errors.js';

/** Parses `--on-error fail|skip|dlq=<file>`. */
export function parseOnError(v: unknown): OnError {
  if (v === undefined || v === true || v === 'fail') return { mode: 'fail' };
  if (v === 'skip') return { mode: 'skip' };
  const s = String(v);
  if (s.startsWith('dlq=') && s.length > 4) return { mode: 'dlq', target: s.slice(4) };
  throw new UsageError(`invalid --on-error \`${s}\``, 'use fail, skip or dlq=<file>');
}

/**
 * Applies the record-error policy for one stage. `fail` throws a RuntimeError naming the position; `skip` counts;
 * `dlq` counts and appends a dead-letter line carrying the original text, the stage, the reason and the position,
 * so nothing is lost silently.
 */
export class RecordErrors {
  count = 0;
  private fd: number | undefined;

  constructor(readonly policy: OnError, readonly stage: string) {}

  handle(where: string, reason: string, original: unknown): void {
    if (this.policy.mode === 'fail') {
      throw new RuntimeError(`${where}: ${reason}`, 'fix the input, or pass --on-error skip or --on-error dlq=<file> to set bad records aside');
    }
    this.count++;
    if (this.policy.mode === 'dlq') {
      if (this.fd === undefined) {
        try {
          this.fd = fs.openSync(this.policy.target, 'a');
        } catch (e) {
          throw new RuntimeError(`cannot open dead-letter file \`${this.policy.target}\`: ${(e as Error).message}`);
        }
      }
      const line = JSON.stringify({ stage: this.stage, reason, source: where, original: original ?? null }) + '\n';
      fs.writeSync(this.fd, line);
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The counters a stage reports for its bad records. */
export function errorCounters(errors: RecordErrors): Record<string, number> {
  return errors.count ? { [errors.policy.mode === 'dlq' ? 'dead-lettered' : 'skipped']: errors.count } : {};
}
