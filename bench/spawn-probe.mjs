// Preloaded with `node --import` by the bench; keeps the measuring out of pollpray itself.
// - POLLPRAY_BENCH_SPAWN_FILE: at exit, writes how many processes pollpray itself started
//   (its direct children: git, ssh; not what git starts in turn).
// - POLLPRAY_BENCH_TICK_FILE (daemon): appends "<ms> <rss MiB>" per cycle, a cycle being
//   from its first child's start to the exit of its last `ssh -O exit` (the end of run()).
import cp from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spawnFile = process.env.POLLPRAY_BENCH_SPAWN_FILE;
const tickFile = process.env.POLLPRAY_BENCH_TICK_FILE;
let spawned = 0;
let tickStart;
const original = cp.spawn;
cp.spawn = function spawn(file, args, ...rest) {
  const child = original.call(this, file, args, ...rest);
  spawned++;
  tickStart ??= performance.now();
  if (tickFile && Array.isArray(args) && args.includes('-O') && args.includes('exit')) {
    child.on('exit', () => {
      appendFileSync(tickFile, `${(performance.now() - tickStart).toFixed(1)} ${(process.memoryUsage().rss / 1048576).toFixed(1)}\n`);
      tickStart = undefined;
    });
  }
  return child;
};
syncBuiltinESMExports();
if (spawnFile) process.on('exit', () => writeFileSync(spawnFile, String(spawned)));
