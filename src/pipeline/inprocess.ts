import { encodeValue, type Rec, type SourceRef } from './record.js';
import type { Stage } from './stage.js';
import { NdjsonDecoder } from '../codec/ndjson.js';
import { RecordErrors } from './onerror.js';
import { decodePlan, pushThrough, PartialFailure } from './runner.js';
import { parseSegment, contextFor } from './assemble.js';
import { splitPipeline } from './words.js';
import { UsageError } from './errors.js';

/**
 * A fused chain of stages driven directly with NDJSON text, for the in-process benchmark: the same decoder,
 * stages and encoder a real run uses, minus the file descriptors.
 */
export class InProcessPipeline {
  private readonly decoder: NdjsonDecoder;
  readonly errors: RecordErrors;
  outRecords = 0;
  outBytes = 0;

  private constructor(readonly text: string, readonly stages: Stage[]) {
    const ref: SourceRef = { name: 'bench', where: (pos) => `generated record ${pos}` };
    this.errors = new RecordErrors({ mode: 'fail' }, 'bench');
    this.decoder = new NdjsonDecoder(decodePlan(stages, { reads: 'none' }), this.errors, ref);
  }

  static async create(pipeline: string): Promise<InProcessPipeline> {
    const stages: Stage[] = [];
    const parts = splitPipeline(pipeline);
    for (let i = 0; i < parts.length; i++) {
      const seg = await parseSegment(parts[i]);
      if (!seg) throw new UsageError('--help inside --pipeline');
      if (!seg.spec.stage) throw new UsageError(`\`${seg.spec.name}\` cannot run inside bench --pipeline`, 'use stages such as filter, map, window, aggregate');
      stages.push(seg.spec.stage(seg.args, seg.opts, contextFor(seg, true, i)));
    }
    return new InProcessPipeline(pipeline, stages);
  }

  /** Runs one chunk of NDJSON lines (first record number `firstPos`) through decode → stages → encode. */
  run(chunk: string, firstPos: number): void {
    const recs: Rec[] = [];
    this.decoder.decode(chunk, firstPos, recs);
    if (this.decoder.failure) throw this.decoder.failure;
    const res = pushThrough(this.stages, 0, recs);
    if (res instanceof PartialFailure) throw res.error;
    this.sink(res);
  }

  end(): void {
    let carry: Rec[] = [];
    for (const st of this.stages) {
      const out: Rec[] = [];
      if (carry.length) st.process(carry, out);
      st.end?.(out);
      carry = out;
    }
    this.sink(carry);
  }

  private sink(recs: Rec[]): void {
    let s = '';
    for (let i = 0; i < recs.length; i++) s += encodeValue(recs[i]) + '\n';
    this.outRecords += recs.length;
    this.outBytes += s.length;
  }
}
