import { UsageError } from './errors.js';
import { encodeValue, type Rec, type SourceRef } from './record.js';
import { NdjsonDecoder } from '../codec/ndjson.js';
import { RecordErrors } from './onerror.js';
import { Chain, PartialFailure } from './chain.js';
import { chainOf } from './assemble.js';
import type { Commands } from './registry.js';
import { splitPipeline } from './words.js';

/**
 * A fused chain of stages driven directly, for the benchmarks: NDJSON text (the in-process bench) or records
 * (the Kafka bench, after kstream's consume path) through the same decoder, stages and encoder a real run uses,
 * minus the file descriptors; what comes out is counted, not written.
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
    const side = chain.stages.find((st) => st.open);
    if (side) throw new UsageError(`\`${side.name}\` reads a side input, which bench --pipeline does not open`, 'measure it with a real run: kstream gen --count 1000000 | kstream join …, or bench/joins.mjs');
    return new InProcessPipeline(pipeline, chain);
  }

  /** No stages: records go straight to the encoder (`bench --pipeline none`). */
  static empty(): InProcessPipeline {
    return new InProcessPipeline('', new Chain([]));
  }

  /** Runs one chunk of NDJSON lines (first record number `firstPos`) through decode → stages → encode. */
  run(chunk: string, firstPos: number): void {
    const recs: Rec[] = [];
    this.decoder.decode(chunk, firstPos, recs);
    if (this.decoder.failure) throw this.decoder.failure;
    this.push(recs);
  }

  /** Pushes records through the chain and encodes what comes out. */
  push(recs: Rec[]): void {
    const res = this.chain.push(recs);
    if (res instanceof PartialFailure) throw res.error;
    this.sink(res);
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
