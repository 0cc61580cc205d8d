// After tsc: makes the compiled CLI executable, so `npx kstream` and `./dist/src/cli.js` work after `npm install`,
// and bundles the kafkajs modules the transport requires into that one file.
//
// Why the bundle: the transport needs ~100 of kafkajs's CommonJS files, and finding, reading and compiling them one
// by one is the largest part of a Kafka command's start-up — ~75 ms on a 2-core machine, against ~30 ms for the same
// modules as one file (esbuild keeps each module's code lazy, evaluated on first require as before). Start-up is
// latency: `gen --rate … | kstream produce` queues every record generated before the producer is connected. Only
// this file is bundled: the rest of dist/ stays one module per source file, as the tests that trace loading expect.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const cli = new URL('../dist/src/cli.js', import.meta.url);
fs.chmodSync(cli, 0o755);

const internals = fileURLToPath(new URL('../dist/src/kafka/transport/kafkajs-internals.cjs', import.meta.url));
const { outputFiles } = buildSync({
  entryPoints: [internals],
  outfile: internals,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
// The entry's "use strict" (tsc writes it) would open the bundle and so cover every kafkajs module, which kafkajs
// wrote without it: its modules run as they do unbundled.
fs.writeFileSync(internals, outputFiles[0].text.replace(/^"use strict";/, ''));
