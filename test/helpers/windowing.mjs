// Shared by window/aggregate/semantics tests: builds stages through the command specs (so flag parsing is
// exercised too) and drives them the way the fused runner does.
import { contextFor } from '../../dist/src/pipeline/assemble.js';
import { Rec } from '../../dist/src/pipeline/record.js';
import windowCmd from '../../dist/commands/window.js';
import aggregateCmd from '../../dist/commands/aggregate.js';

// records as a Kafka source gives them: with key, timestamp and headers
export const ctx = (mode = 'fail') => contextFor({ opts: { onError: mode } }, true, 0, { key: true, ts: true, headers: true });

/** A record as the NDJSON decoder makes it (full value plus its text). */
export function rec(value, pos = 1, ts) {
  const r = new Rec(value, JSON.stringify(value), false, pos);
  if (ts !== undefined) r.ts = ts;
  return r;
}

/** cac's defaults for the negatable flags, plus the given options. */
export function makeWindow(args, opts = {}, onError = 'fail') {
  return windowCmd.stage(args, { watermarks: true, partial: true, ...opts }, ctx(onError));
}

export function makeAggregate(fns, opts = {}, onError = 'fail') {
  return aggregateCmd.stage(fns, { watermarks: true, ...opts }, ctx(onError));
}

export const data = (recs) => recs.filter((r) => r.ctl === undefined).map((r) => r.value);

/**
 * Feeds `values` one record per batch through window → aggregate, then ends both as the runner does.
 * `steps[i]` = aggregate data outputs caused by record i; `atEnd` = outputs at end of input; `raw` = every output
 * record (controls included) in order.
 */
export function drive(win, agg, values, { end = true, batch = 1 } = {}) {
  const steps = [];
  const raw = [];
  for (let i = 0; i < values.length; i += batch) {
    const mid = [];
    win.process(values.slice(i, i + batch).map((v, j) => (v instanceof Rec ? v : rec(v, i + j + 1))), mid);
    const out = [];
    agg.process(mid, out);
    raw.push(...out);
    steps.push(data(out));
  }
  let atEnd = [];
  if (end) {
    const mid = [];
    win.end(mid);
    const out = [];
    if (mid.length) agg.process(mid, out);
    agg.end(out);
    raw.push(...out);
    atEnd = data(out);
  }
  return { steps, atEnd, all: [...steps.flat(), ...atEnd], raw };
}

/** A window as results show it. */
export const win = (start, end) => ({ start, end });
