// `node --import ./test/helpers/trace-imports.mjs …` appends every module URL the process loads to the file named by
// KSTREAM_TRACE_IMPORTS, one per line: tests check what a command loads (kstream filter: no Kafka code).
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
import fs from 'node:fs';
export async function load(url, context, next) {
  if (process.env.KSTREAM_TRACE_IMPORTS) fs.appendFileSync(process.env.KSTREAM_TRACE_IMPORTS, url + '\\n');
  return next(url, context);
}`));
