import fs from 'node:fs';
import type { OnError } from './stage.js';
import { Buffer } from 'node:buffer';
import { RuntimeError, UsageError } from './errors.js';
import type { RunContext } from './run-context.js';

/** Dead letters go to a Kafka topic when the target is `kafka:<topic>`; any other target is a file. */
const KAFKA_TARGET = 'kafka:';

/** Parses `--on-error fail|skip|dlq=<file>|dlq=kafka:<topic>`. */
export function parseOnError(v: unknown): OnError {
  if (v === undefined || v === true || v === 'fail') return { mode: 'fail' };
  if (v === 'skip') return { mode: 'skip' };
  const s = String(v);
  if (s === `dlq=${KAFKA_TARGET}`) throw new UsageError('missing topic in `dlq=kafka:`', 'use dlq=kafka:<topic>');
  if (s.startsWith('dlq=') && s.length > 4) return { mode: 'dlq', target: s.slice(4) };
  throw new UsageError(`invalid --on-error \`${s}\``, 'use fail, skip, dlq=<file> or dlq=kafka:<topic>');
}

/**
 * Applies the record-error policy for one stage. `fail` throws a RuntimeError naming the position; `skip` counts;
 * `dlq` counts and appends a dead-letter line carrying the original text, the stage, the reason and the position
 * to a file, or sends a dead-letter record to a Kafka topic (kafka/connect/dead-letters.ts), so nothing is lost silently.
 */
export class RecordErrors {
  count = 0;
  private fd: number | undefined;

  /** `run`: where dead-letter topics come from (dlq=kafka:…); without it they are refused. */
  constructor(readonly policy: OnError, readonly stage: string, private readonly run?: RunContext) {
    // asked for now, so the run checks the topic before its first record (not at its first bad one)
    if (policy.mode === 'dlq' && policy.target.startsWith(KAFKA_TARGET)) run?.kafkaLetters?.(policy.target.slice(KAFKA_TARGET.length));
  }

  /** `hint`: what to do about this kind of bad record, when fixing the input is not the answer. */
  handle(where: string, reason: string, original: unknown, hint = 'fix the input'): void {
    if (this.policy.mode === 'fail') {
      throw new RuntimeError(`${where}: ${reason}`, `${hint}, or pass --on-error skip or --on-error dlq=<file> to set bad records aside`);
    }
    this.count++;
    if (this.policy.mode === 'dlq') {
      if (this.policy.target.startsWith(KAFKA_TARGET)) {
        const letters = this.run?.kafkaLetters;
        if (!letters) throw new RuntimeError(`\`${this.stage}\` cannot send dead letters to Kafka here`, 'use --on-error dlq=<file>');
        letters(this.policy.target.slice(KAFKA_TARGET.length)).add({ stage: this.stage, reason, where, original });
        return;
      }
      if (this.fd === undefined) {
        try {
          this.fd = fs.openSync(this.policy.target, 'a');
        } catch (e) {
          throw new RuntimeError(`cannot open dead-letter file \`${this.policy.target}\`: ${(e as Error).message}`);
        }
      }
      // bytes that are not text (invalid UTF-8) are kept as base64
      const line = Buffer.isBuffer(original)
        ? JSON.stringify({ stage: this.stage, reason, source: where, original: original.toString('base64'), encoding: 'base64' }) + '\n'
        : JSON.stringify({ stage: this.stage, reason, source: where, original: original ?? null }) + '\n';
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
