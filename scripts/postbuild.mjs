// Makes the compiled CLI executable, so `npx kstream` and `./dist/src/cli.js` work after `npm install`.
import fs from 'node:fs';
const cli = new URL('../dist/src/cli.js', import.meta.url);
fs.chmodSync(cli, 0o755);
