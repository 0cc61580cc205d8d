import type { CommandSpec } from '../src/pipeline/command.js';
import type { Stage } from '../src/pipeline/stage.js';
import { compileExpr, type Expr } from '../src/operators/expr.js';
import type { RecordErrors } from '../src/pipeline/onerror.js';

/** map, filter and flatmap share their shape: one expression argument, one stage class. */
export function exprStageCommand(
  name: string,
  summary: string,
  examples: string[],
  make: (e: Expr, errors: RecordErrors) => Stage,
): CommandSpec {
  return {
    name,
    args: '<expr>',
    summary,
    examples,
    options: [],
    stage(args, _opts, ctx) {
      const expr = compileExpr(args.join(' '), `${name} expression`, ctx.carries, ctx.fused);
      return make(expr, ctx.errors(name));
    },
  };
}
