// Run by test/runtimes.test.mjs under Node, Bun and Deno: loads every codec library the way kstream does and
// round-trips a record batch through each codec. Prints one JSON line: { codec: "ok" | error }.
import { Buffer } from 'node:buffer';
import { BatchBuilder, decodeRecords } from '../../dist/src/kafka/protocol/records.js';

const out = {};
for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
  try {
    const b = new BatchBuilder(64);
    for (let i = 0; i < 200; i++) b.append(`k${i}`, JSON.stringify({ i, pad: 'x'.repeat(i * 10) }), 1_700_000_000_000 + i, undefined);
    const batch = await b.seal(codec);
    const cols = [];
    await decodeRecords(batch, 0, batch.length, 0, undefined, cols);
    const values = cols.flatMap((c) => Array.from({ length: c.count }, (_, i) => c.buf.toString('utf8', c.valueStart[i], c.valueEnd[i])));
    const ok = values.length === 200 && values.every((v, i) => JSON.parse(v).pad.length === i * 10) && (batch.readInt16BE(21) & 7) !== 0;
    out[codec] = ok ? 'ok' : `wrong records (${values.length})`;
  } catch (e) {
    out[codec] = String(e?.message ?? e);
  }
}
console.log(JSON.stringify(out));
