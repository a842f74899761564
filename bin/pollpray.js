#!/usr/bin/env node
// Thin entry, CommonJS on purpose (bin/package.json): `pollpray --version` is answered here
// without starting Node's ES module loader, which alone costs more than the rest of it;
// everything else lives in the built ES module CLI.
'use strict';
const argv = process.argv;
if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) {
  process.stdout.write(`${require('../package.json').version}\n`);
} else {
  // pollpray's JavaScript is glue between git and ssh; its memory, not its speed, is what
  // a host notices (and every fork copies its page tables). So V8 keeps its young
  // generation at 1 MiB and its heap small, and skips the optimizing compilers, whose
  // work a run never earns back: a 200-target run peaks at ~65 MiB instead of ~100 at
  // the same speed (bench/README.md, goal 5). Set here, before any of pollpray is
  // compiled; a child (a deploy script's node) does not inherit them. On the command line
  // they would be lost whenever node is started by hand (`node /usr/local/bin/pollpray`,
  // as the cron line and systemd units do), and a shebang cannot portably pass them.
  // Each flag exists in Node 20, 22 and 24 (test/e2e/node-versions.test.ts).
  require('node:v8').setFlagsFromString(
    '--semi-space-growth-factor=1 --optimize-for-size --no-turbofan --no-maglev --no-sparkplug',
  );
  import('../dist/main.js');
}
