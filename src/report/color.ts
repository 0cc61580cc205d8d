/**
 * Colour, decided per target stream rather than by chalk's default instance: chalk 5 reads FORCE_COLOR and the TTY
 * but ignores NO_COLOR (its vendored supports-color has no NO_COLOR check), and its default instance looks at stdout
 * even when the text goes to stderr. Kept apart from the tables so that the error line of every command can use it
 * without loading cli-table3.
 */
import process from 'node:process';
import { Chalk, type ChalkInstance } from 'chalk';

export type ColorLevel = 0 | 1 | 2 | 3;

/** https://no-color.org: a non-empty NO_COLOR disables colour; FORCE_COLOR forces it; otherwise TTYs get colour. */
export function colorLevel(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): ColorLevel {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const n = Number.parseInt(force, 10);
    return Number.isNaN(n) ? 1 : (Math.max(0, Math.min(3, n)) as ColorLevel);
  }
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  if (env.TERM && /-256(color)?$/i.test(env.TERM)) return 2;
  return 1;
}

export function paint(level: ColorLevel): ChalkInstance {
  return new Chalk({ level });
}

