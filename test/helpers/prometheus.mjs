// A small Prometheus text-format reader for tests, independent of src/report/metrics.ts: every line is a
// `# HELP name text`, a `# TYPE name type`, or a sample `name{label="value",…} number`; anything else throws.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function labelsOf(text, line) {
  const labels = {};
  if (text === undefined || text === '') return labels;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in line: ${line}`);
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function number(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`bad value in line: ${line}`);
  return v;
}

/** → { samples: [{ name, labels, value }], help: Map, type: Map } */
export function parseExposition(text) {
  const samples = [];
  const help = new Map();
  const type = new Map();
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) help.set(m[1], m[2]);
    else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) type.set(m[1], m[2]);
    else if (line.startsWith('#')) throw new Error(`bad comment line: ${line}`);
    else {
      m = SAMPLE.exec(line);
      if (!m) throw new Error(`bad sample line: ${line}`);
      samples.push({ name: m[1], labels: labelsOf(m[2], line), value: number(m[3], line) });
    }
  }
  // every sample belongs to a family with HELP and TYPE (a histogram's _bucket/_sum/_count to its base name)
  for (const s of samples) {
    const base = type.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    if (!type.has(base) || !help.has(base)) throw new Error(`sample ${s.name} has no HELP/TYPE`);
  }
  return { samples, help, type };
}

/** The value of the one sample `name` whose labels include `labels` (undefined when none). */
export function valueOf(parsed, name, labels = {}) {
  const found = parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** GET the URL, check it is text exposition, and parse it. */
export async function scrape(url) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  const ct = res.headers.get('content-type') ?? '';
  if (!ct.startsWith('text/plain') || !ct.includes('version=0.0.4')) throw new Error(`${url}: content-type ${ct}`);
  return parseExposition(await res.text());
}

/** The `kstream: metrics at <url>` line a run writes on stderr, once it came. */
export async function metricsUrl(proc, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = /metrics at (http:\/\/\S+)/.exec(proc.stderr());
    if (m) return m[1];
    if (Date.now() > deadline) throw new Error(`no metrics address on stderr: ${proc.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
