import { exprStageCommand } from './expr-stage.js';
import { FlatMapStage } from '../src/operators/flatmap.js';

export default exprStageCommand(
  'flatmap',
  'Emit one record per element of the array a JavaScript expression over r returns',
  [`echo '{"id":1,"tags":["a","b"]}' | kstream flatmap 'r.tags.map(t => ({id: r.id, tag: t}))'`],
  (e, errors) => new FlatMapStage(e, errors),
);
