#!/usr/bin/env node
// Thin entry, CommonJS on purpose (bin/package.json): `pollpray --version` is answered here
// without starting Node's ES module loader, which alone costs more than the rest of it;
// everything else lives in the built ES module CLI.
'use strict';
const argv = process.argv;
if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
  process.stdout.write(`${require('../package.json').version}\n`);
} else {
  import('../dist/main.js');
}
