/**
 * JSON for state changelog values. Plain JSON turns Infinity and NaN into null, so a sum that overflowed or a
 * distinct set holding NaN would restore as something else; here they travel as {"\u0000num": "Infinity"}.
 */
const TAG = '\u0000num';

export function stateStringify(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? { [TAG]: String(x) } : x));
}

export function stateParse(text: string): unknown {
  return JSON.parse(text, (_k, x) => (x !== null && typeof x === 'object' && typeof x[TAG] === 'string' && Object.keys(x).length === 1 ? Number(x[TAG]) : x));
}
