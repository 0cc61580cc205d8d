/**
 * What presets and templates have in common: something that appends generated records to a batch.
 *
 * The generator works a batch at a time (one call per batch, plain loops inside), and produces each record twice
 * cheaply: as its NDJSON line, which stdout and Kafka sinks write as-is, and — when wanted — as the value object
 * fused stages read, so neither side has to serialise or parse.
 */
export interface RecordMaker {
  /**
   * Append `n` records to `lines` (and to `values` unless null). Record i has sequence number `seq0 + i` and event
   * time `ts[i]`; `now` is the wall clock (epoch ms) for the whole batch.
   */
  make(seq0: number, ts: ArrayLike<number>, n: number, now: number, lines: string[], values: unknown[] | null): void;
}
