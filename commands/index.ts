import { commandTable } from '../src/pipeline/registry.js';

/** Every subcommand, loaded on demand: the table src/cli.ts and src/worker.ts hand to the parser. */
export const commands = commandTable({
  consume: () => import('./consume.js'),
  produce: () => import('./produce.js'),
  map: () => import('./map.js'),
  filter: () => import('./filter.js'),
  flatmap: () => import('./flatmap.js'),
  window: () => import('./window.js'),
  aggregate: () => import('./aggregate.js'),
  dedupe: () => import('./dedupe.js'),
  table: () => import('./table.js'),
  join: () => import('./join.js'),
  lookup: () => import('./lookup.js'),
  gen: () => import('./gen.js'),
  stats: () => import('./stats.js'),
  top: () => import('./top.js'),
  serve: () => import('./serve.js'),
  bench: () => import('./bench.js'),
  topics: () => import('./topics.js'),
  groups: () => import('./groups.js'),
  profile: () => import('./profile.js'),
  completion: () => import('./completion.js'),
});
