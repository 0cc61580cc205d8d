import type { CommandSpec } from '../src/pipeline/command.js';
import { GenSource } from '../src/loadgen/source.js';
import { GEN_OPTIONS, parseGenOptions } from '../src/loadgen/options.js';

const gen: CommandSpec = {
  name: 'gen',
  args: '',
  summary: 'Generate seeded synthetic records (clicks, orders, iot or a template), as fast as possible or at a constant --rate',
  examples: [
    'kstream gen --preset clicks --count 1000 --seed 7',
    'kstream gen --rate 20k --duration 30s | kstream produce clicks',
    `kstream gen --count 5 --template '{"id":"{{uuid}}","user":"u{{zipf 100 1.2}}","n":{{int 1 9}},"ok":{{bool 0.9}}}'`,
    'kstream gen --rate 5000 --duration 10s | kstream stats --latency-from r.ts',
  ],
  options: GEN_OPTIONS,
  source(_args, opts) {
    return new GenSource(parseGenOptions(opts));
  },
};

export default gen;
