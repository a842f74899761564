// Preloaded by the soak (`node --import bench/soak-gate.mjs bin/pollpray.js run`): loads
// the modules `pollpray run` loads, then holds the process until the soak writes a line
// to its stdin. The soak starts the next cycle's run this way while the current one is
// still going, so Node's start-up overlaps with it; nothing of the run itself (config,
// lock, state, git) happens before the line arrives. EOF instead of a line: exit quietly.
const dist = new URL('../dist/', import.meta.url);
// Only a head start: a module that moved is simply loaded later, by pollpray itself.
await Promise.allSettled(['commands/run.js'].map((m) => import(new URL(m, dist).href)));
const go = await new Promise((resolve) => {
  process.stdin.once('data', () => resolve(true));
  process.stdin.once('end', () => resolve(false));
});
process.stdin.removeAllListeners();
process.stdin.destroy();
if (!go) process.exit(0);
