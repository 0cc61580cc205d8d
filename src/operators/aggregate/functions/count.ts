import { same, type AggFunction } from './function.js';
import { UsageError } from '../../../pipeline/errors.js';

/** `count` counts records; `count(expr)` counts the records whose expr is not null. */
export const count: AggFunction<number> = {
  name: 'count',
  usage: 'count, count(expr)',
  parse(c) {
    if (c.args.length > 1 || (c.args.length === 1 && c.args[0] === '')) {
      throw new UsageError(`\`${c.text}\`: \`count\` takes no argument or one`, 'for example `count` or `count(r.user)`');
    }
    return { arg: c.args[0], param: undefined };
  },
  numeric: false,
  state: (arg) => (arg === undefined ? 'count' : 'countv'),
  init: () => 0,
  add: (s) => s + 1,
  merge: (a, b) => a + b,
  clone: same,
  toJson: same,
  fromJson: (j) => (typeof j === 'number' ? j : 0),
  result: same,
};
