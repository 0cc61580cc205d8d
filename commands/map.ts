import { exprStageCommand } from './expr-stage.js';
import { MapStage } from '../src/operators/map.js';

export default exprStageCommand(
  'map',
  'Replace each record with the value of a JavaScript expression over r (and key, ts, headers)',
  [
    `kstream gen --count 5 | kstream map '({user: r.user, ms: r.latency_ms * 1000})'`,
    `kstream map '{...r, slow: r.latency_ms > 100}' < clicks.ndjson`,
  ],
  (e, errors) => new MapStage(e, errors),
);
