// NdjsonDecoder.spans (stdin lines handed to `produce` as byte spans, pipeline/spans.ts) against decode(): over
// the same chunks, the spans are exactly the raw text of the data records decode() makes, and the bad lines,
// their numbers, reasons and texts are the same — for learned shapes, other shapes, values the byte matcher
// leaves to the text (fractions, escapes, nesting), control lines, blank and padded lines, CRLF and malformed lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { NdjsonDecoder, asciiChunk } from '../dist/src/codec/ndjson.js';
import { LineSpans } from '../dist/src/pipeline/spans.js';
import { Prng } from '../dist/src/loadgen/prng.js';

const where = { name: 'stdin', where: (p) => `stdin line ${p}` };

/** A RecordErrors stand-in that records what it is given; `fail` throws on the first bad line as the real one does. */
function errors(mode) {
  const seen = [];
  return {
    seen,
    count: 0,
    policy: { mode },
    handle(at, reason, original) {
      if (mode === 'fail') throw new Error(`${at}: ${reason}`);
      this.count++;
      seen.push([at, reason, original]);
    },
  };
}

const VALUES = ['0', '-7', '42', '3.25', '-1e-3', '1767225600000', '"x"', '""', '"a b"', '"\\"q\\""', '"tab\\t"', 'true', 'false', 'null', '[]',
  '[1,"]",{"a":[2]}]', '{}', '{"n":{"m":null}}'];
const KEYS = ['ts', 'user', 'page', 'latency_ms', 'ok', '$x'];

function lineOf(rnd) {
  const r = rnd.float();
  if (r < 0.03) return '';
  if (r < 0.05) return '  \t ';
  if (r < 0.06) return '{"$kstream":{"watermark":' + rnd.int(0, 1e6) + '}}';
  if (r < 0.065) return '{"$kstream":{"watermark":1,"b":2}}';
  if (r < 0.07) return '{"$kstream":5}';
  if (r < 0.075) return '{"$watermark":' + rnd.int(0, 1e6) + '}';
  if (r < 0.08) return '{"$set":{"a":1}}';
  if (r < 0.09) return '{"$kstream":{"watermark":';
  if (r < 0.1) return VALUES[rnd.int(0, VALUES.length - 1)];
  const keys = r < 0.8 ? KEYS.slice(0, 5) : KEYS.filter(() => rnd.float() < 0.6);
  let line = '{' + keys.map((k) => `"${k}":${VALUES[rnd.int(0, VALUES.length - 1)]}`).join(',') + '}';
  const m = rnd.float();
  if (m < 0.05) line = line.slice(0, rnd.int(1, line.length - 1));
  else if (m < 0.08) line = line.replace(':', '');
  else if (m < 0.1) line = '  ' + line + ' \t';
  else if (m < 0.12) line += '\r';
  return line;
}

/**
 * Runs the chunks through a fresh decoder, each chunk by `each(decoder, chunk, firstLine, raws)` (which returns
 * the lines it consumed): the kept lines' text and the bad lines; or the failure.
 */
function decodeWith(each, chunks, mode) {
  const errs = errors(mode);
  const dec = new NdjsonDecoder('none', errs, where);
  const raws = [];
  let line = 1;
  for (const c of chunks) {
    line += each(dec, c, line, raws);
    if (dec.failure) return { raws, bad: errs.seen, failure: dec.failure.message, line };
  }
  return { raws, bad: errs.seen, line };
}

/** decode() over the text: the raw text of each data record. */
const viaDecode = (chunks, mode) => decodeWith((dec, c, line, raws) => {
  const out = [];
  const n = dec.decode(c.toString('latin1'), line, out, undefined);
  for (const r of out) if (r.ctl === undefined) raws.push(r.raw);
  return n;
}, chunks, mode);

/** spans() over the bytes: the text of each span. */
const viaSpans = (chunks, mode) => decodeWith((dec, c, line, raws) => {
  const ascii = asciiChunk(c);
  assert.ok(ascii, 'an ASCII chunk');
  const spans = new LineSpans(c, 4);
  const n = dec.spans(c, ascii, line, spans);
  for (let i = 0; i < spans.count; i++) raws.push(c.latin1Slice(spans.starts[i], spans.ends[i]));
  return n;
}, chunks, mode);

/** Lines cut into chunks at line ends, as the stdin framer gives them (no chunk ends with its newline). */
function chunked(rnd, lines) {
  const chunks = [];
  for (let i = 0; i < lines.length;) {
    const n = rnd.int(1, 300);
    chunks.push(Buffer.from(lines.slice(i, i + n).join('\n'), 'latin1'));
    i += n;
  }
  return chunks;
}

/**
 * The independent oracle: what the NDJSON framing keeps of `lines` (line i is line i + 1), from the README and
 * docs/semantics.md, with JSON.parse as the judge of JSON — each line without its '\r' and surrounding blanks;
 * blank lines skipped; a line JSON.parse refuses is bad; a control line (exactly one key, `$kstream`, holding an
 * object with exactly one key, in the compact form starting `{"$kstream":{"`) is no data; every other line is kept
 * as its trimmed text. Returns the kept texts and the numbers of the bad lines.
 */
function framed(lines) {
  const raws = [];
  const bad = [];
  lines.forEach((l, i) => {
    const t = l.replace(/\r$/, '').replace(/^[ \t]+|[ \t]+$/g, '');
    if (t === '') return;
    let v;
    try {
      v = JSON.parse(t);
    } catch {
      bad.push(i + 1);
      return;
    }
    const control = t.startsWith('{"$kstream":{"') && Object.keys(v).length === 1 && Object.keys(v.$kstream).length === 1;
    if (!control) raws.push(t);
  });
  return { raws, bad };
}
const lineNo = (at) => Number(/^stdin line (\d+)$/.exec(at)?.[1]);

test('spans() keeps exactly the lines decode() makes data records of, and refuses the same lines alike', () => {
  let lines = 0;
  let bad = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const rnd = new Prng(seed);
    const input = Array.from({ length: 2000 }, () => lineOf(rnd));
    const chunks = chunked(rnd, input);
    const want = viaDecode(chunks, 'skip');
    const got = viaSpans(chunks, 'skip');
    // both equal the oracle: the kept lines' text, and the bad lines by number (with the line as read)
    const spec = framed(input);
    assert.deepEqual(want.raws, spec.raws, `seed ${seed}: decode() keeps the lines JSON.parse accepts, controls aside`);
    assert.deepEqual(want.bad.map(([at]) => lineNo(at)), spec.bad, `seed ${seed}: decode() refuses the lines JSON.parse refuses`);
    assert.deepEqual(want.bad.map(([, , original]) => original.trim()), spec.bad.map((n) => input[n - 1].trim()), `seed ${seed}: the bad lines' text`);
    assert.deepEqual(got.raws, want.raws, `seed ${seed}: the lines`);
    assert.deepEqual(got.bad, want.bad, `seed ${seed}: the bad lines`);
    assert.equal(got.line, want.line);
    assert.equal(want.line, input.length + 1);
    lines += want.raws.length;
    bad += want.bad.length;
  }
  // the mix really had every kind of line
  assert.ok(lines > 15_000 && bad > 1000, `${lines} lines, ${bad} bad`);
});

test('spans() under --on-error fail: the lines before the bad one, then the same failure at the same line', () => {
  for (let seed = 20; seed < 30; seed++) {
    const rnd = new Prng(seed);
    const input = Array.from({ length: 500 }, () => lineOf(rnd));
    const chunks = chunked(rnd, input);
    const want = viaDecode(chunks, 'fail');
    const got = viaSpans(chunks, 'fail');
    assert.ok(want.failure, `seed ${seed} has a bad line`);
    // the failure names the oracle's first bad line; what was kept before it is a prefix of the oracle's lines
    // before that line (at most up to the chunk holding it)
    const first = framed(input).bad[0];
    assert.match(want.failure, new RegExp(`^stdin line ${first}:`));
    const before = framed(input.slice(0, first - 1)).raws;
    assert.deepEqual(want.raws, before.slice(0, want.raws.length));
    assert.equal(got.failure, want.failure);
    assert.deepEqual(got.raws, want.raws);
    assert.equal(got.line, want.line);
  }
});

test('spans(): lines of a learned shape, one the byte matcher leaves to the text, and a bad one with its reason and number', () => {
  const errs = errors('skip');
  const dec = new NdjsonDecoder('none', errs, where);
  const text = '{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n{"a":3,"b":"z"}\n{"a":4,"b":2.5e3}\n{"a":5,"b":"w"\n{"a":6,"b":"v"}';
  const buf = Buffer.from(text);
  const spans = new LineSpans(buf);
  assert.equal(dec.spans(buf, asciiChunk(buf), 10, spans), 6);
  const kept = ['{"a":1,"b":"x"}', '{"a":2,"b":"y"}', '{"a":3,"b":"z"}', '{"a":4,"b":2.5e3}', '{"a":6,"b":"v"}'];
  assert.deepEqual(Array.from({ length: spans.count }, (_, i) => buf.latin1Slice(spans.starts[i], spans.ends[i])), kept);
  assert.equal(errs.seen.length, 1);
  assert.equal(errs.seen[0][0], 'stdin line 14');
  assert.match(errs.seen[0][1], /column 15: unexpected end of line/);
  assert.equal(errs.seen[0][2], '{"a":5,"b":"w"');
  assert.equal(spans.bytes(), kept.join('').length);
});

test('asciiChunk: bytes for ASCII chunks only', () => {
  assert.ok(asciiChunk(Buffer.from('{"a":1}')));
  assert.equal(asciiChunk(Buffer.from('{"a":"é"}')), undefined);
});
