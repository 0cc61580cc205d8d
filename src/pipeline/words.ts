import { UsageError } from './errors.js';

/**
 * Splits a pipeline written as one string ("consume t | filter 'r.ok' | produce u") into stage argument lists,
 * with shell quoting rules ('…' literal, "…" with backslash escapes, \x outside quotes). Unquoted `|` and `+`
 * separate stages, so `kstream run` and `bench --pipeline` accept both the pipe and the fused spelling.
 */
export function splitPipeline(text: string): string[][] {
  const stages: string[][] = [[]];
  let cur = '';
  let inWord = false;
  let i = 0;
  const n = text.length;
  const flush = () => {
    if (inWord) stages[stages.length - 1].push(cur);
    cur = '';
    inWord = false;
  };
  while (i < n) {
    const c = text[i];
    if (c === "'") {
      const e = text.indexOf("'", i + 1);
      if (e < 0) throw new UsageError(`unterminated ' in pipeline \`${text}\``);
      cur += text.slice(i + 1, e);
      inWord = true;
      i = e + 1;
    } else if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n && '"\\$`'.includes(text[i + 1])) i++;
        cur += text[i++];
      }
      if (i >= n) throw new UsageError(`unterminated " in pipeline \`${text}\``);
      inWord = true;
      i++;
    } else if (c === '\\' && i + 1 < n) {
      cur += text[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      flush();
      i++;
    } else if ((c === '|' || c === '+') && !inWord && (i + 1 >= n || /\s/.test(text[i + 1]))) {
      flush();
      stages.push([]);
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  flush();
  if (stages.some((s) => s.length === 0)) throw new UsageError(`empty stage in pipeline \`${text}\``, "write stages as 'filter r.ok | map r.user'");
  return stages;
}

/** Splits argv on lone "+" arguments: `filter x + map y` → [[filter, x], [map, y]]. */
export function splitFused(argv: string[]): string[][] {
  const out: string[][] = [[]];
  for (const a of argv) {
    if (a === '+') out.push([]);
    else out[out.length - 1].push(a);
  }
  if (out.some((s) => s.length === 0)) throw new UsageError('empty stage around `+`', 'write stages as `kstream filter r.ok + map r.user`');
  return out;
}
