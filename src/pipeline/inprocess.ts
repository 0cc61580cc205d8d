import { encodeValue, type Rec, type SourceRef } from './record.js';
import { NdjsonDecoder } from '../codec/ndjson.js';
import { RecordErrors } from './onerror.js';
import { PartialFailure, type Chain } from './chain.js';
import { chainOf } from './assemble.js';
import type { Commands } from './registry.js';
import { splitPipeline } from './words.js';

/**
 * A fused chain of stages driven directly with NDJSON text, for the in-process benchmark: the same decoder,
 * stages and encoder a real run uses, minus the file descriptors.
 */
export class InProcessPipeline {
  private readonly decoder: NdjsonDecoder;
  readonly errors: RecordErrors;
  outRecords = 0;
  outBytes = 0;

  private constructor(readonly text: string, readonly chain: Chain) {
    const ref: SourceRef = { name: 'bench', where: (pos) => `generated record ${pos}` };
    this.errors = new RecordErrors({ mode: 'fail' }, 'bench');
    this.decoder = new NdjsonDecoder(chain.plan(), this.errors, ref);
  }

  static async create(pipeline: string, commands: Commands): Promise<InProcessPipeline> {
    const { chain } = await chainOf(splitPipeline(pipeline), commands, 'bench --pipeline', true);
    return new InProcessPipeline(pipeline, chain);
  }

  /** Runs one chunk of NDJSON lines (first record number `firstPos`) through decode → stages → encode. */
  run(chunk: string, firstPos: number): void {
    const recs: Rec[] = [];
    this.decoder.decode(chunk, firstPos, recs);
    if (this.decoder.failure) throw this.decoder.failure;
    this.sink(this.records(recs));
  }

  /** Pushes decoded records through the chain; what comes out is counted as written. */
  records(recs: Rec[]): Rec[] {
    const res = this.chain.push(recs);
    if (res instanceof PartialFailure) throw res.error;
    return res;
  }

  end(): void {
    this.sink(this.chain.end());
  }

  private sink(recs: Rec[]): void {
    let s = '';
    for (let i = 0; i < recs.length; i++) s += encodeValue(recs[i]) + '\n';
    this.outRecords += recs.length;
    this.outBytes += s.length;
  }
}
