// Preloaded with `node --import` by the bench; keeps the measuring out of pollpray itself.
// - POLLPRAY_BENCH_SPAWN_FILE: at exit, writes how many processes pollpray itself started
//   (its direct children: git, ssh; not what git starts in turn).
// - POLLPRAY_BENCH_TICK_FILE (daemon): appends "<ms> <rss MiB>" per cycle, a cycle being
//   from its first child's start to the exit of its last `ssh -O exit` (the end of run()).
// - POLLPRAY_BENCH_TIMELINE_FILE: at exit, writes where a run's time went, as JSON: when
//   (ms since the process started) the first ssh master and the first and last git were
//   started, when the last child ended and the process exited, and how long the spawn()
//   calls themselves held the main thread (Node forks: the cost grows with pollpray's RSS).
import cp from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spawnFile = process.env.POLLPRAY_BENCH_SPAWN_FILE;
const tickFile = process.env.POLLPRAY_BENCH_TICK_FILE;
const timelineFile = process.env.POLLPRAY_BENCH_TIMELINE_FILE;
let spawned = 0;
let tickStart;
const timeline = { master: undefined, firstGit: undefined, lastGit: undefined, lastExit: 0, spawnMs: 0, spawns: 0 };
const original = cp.spawn;
cp.spawn = function spawn(file, args, ...rest) {
  const before = performance.now();
  const child = original.call(this, file, args, ...rest);
  const after = performance.now();
  timeline.spawnMs += after - before;
  timeline.spawns++;
  if (file === 'git') {
    timeline.firstGit ??= before;
    timeline.lastGit = before;
  } else if (file === 'ssh' && Array.isArray(args) && args.includes('-N')) {
    timeline.master ??= before;
  }
  child.on('exit', () => {
    timeline.lastExit = performance.now();
  });
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
if (timelineFile) process.on('exit', () => writeFileSync(timelineFile, JSON.stringify({ ...timeline, exit: performance.now() })));
