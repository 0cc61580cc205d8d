import { exprStageCommand } from './expr-stage.js';
import { FilterStage } from '../src/operators/filter.js';

export default exprStageCommand(
  'filter',
  'Keep records for which a JavaScript expression over r is truthy; kept records pass unchanged',
  [
    `kstream gen --count 1000 | kstream filter 'r.latency_ms > 50 && r.ok'`,
    `kstream consume clicks --exit + filter 'r.country === "DE"'`,
  ],
  (e, errors) => new FilterStage(e, errors),
);
