// Preloaded with `node --import`: on exit, writes this process's peak RSS (KiB) to
// $POLLPRAY_BENCH_RSS_FILE. Keeps the measurement out of pollpray itself.
import { writeFileSync } from 'node:fs';

const file = process.env.POLLPRAY_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
