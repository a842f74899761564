import type { Config } from '../config/normalise.js';
import { fleetRows } from '../coordination/gate.js';
import { FleetStore, redisLabel } from '../coordination/store.js';
import { ConfigError } from '../errors.js';
import { selectTargets } from './select.js';
import type { Command } from 'commander';
import { configFrom, type CliContext } from './cli-context.js';
import { out, problem } from '../log/console.js';
import { fleetStatusLines } from '../render/text.js';

/** One host of one target as `fleet status --json` shows it (fields are only ever added). */
export interface FleetHostStatus {
  host: string;
  canary: boolean;
  commit: string | null;
  result: string | null;
  time: string;
  age_seconds: number;
  stale: boolean;
  error: string | null;
  pending: { commit: string; reason: string } | null;
}

export interface FleetStatusReport {
  version: 1;
  group: string;
  redis: string;
  host_id: string;
  stale_after_seconds: number;
  targets: { target: string; max_in_flight: number; slots: (string | null)[]; hosts: FleetHostStatus[] }[];
}

export async function fleetStatus(config: Config, names: string[] = [], now: () => number = Date.now, warn: (line: string) => void = () => {}): Promise<FleetStatusReport> {
  const c = config.coordination;
  if (!c) {
    throw new ConfigError(`${config.file} has no coordination section: this host is not part of a fleet`, {
      hint: 'add coordination: { redis: redis://HOST:6379/0, group: NAME } (see "Running a fleet" in the README)',
    });
  }
  const targets = selectTargets(config, names);
  const store = await FleetStore.connect(c);
  try {
    const report: FleetStatusReport = {
      version: 1,
      group: c.group,
      redis: redisLabel(c.redis),
      host_id: config.hostId,
      stale_after_seconds: Math.round(c.staleAfterMs / 1000),
      targets: [],
    };
    for (const t of targets) {
      const [{ records, ignored }, holders] = await Promise.all([store.fleet(t.name), store.slotHolders(t.name, c.maxInFlight)]);
      for (const line of ignored) warn(line);
      report.targets.push({
        target: t.name,
        max_in_flight: c.maxInFlight,
        // Tokens are host:pid:random; only the host means anything to a reader.
        slots: holders.map((h) => (h ? (h.split(':')[0] ?? null) : null)),
        hosts: fleetRows(records, now(), c.staleAfterMs).map((r) => ({
          host: r.host,
          canary: r.canary,
          commit: r.commit,
          result: r.result,
          time: r.time,
          age_seconds: Math.round(r.ageMs / 1000),
          stale: r.stale,
          error: r.error ?? null,
          pending: r.pending ?? null,
        })),
      });
    }
    return report;
  } finally {
    await store.close();
  }
}

export function defineCommands(program: Command, _cli: CliContext): void {
  program
    .command('fleet')
    .description('hosts coordinated through Redis (see coordination in the config)')
    .command('status')
    .description('every host of the group: deployed commit, last result, age, stale hosts')
    .argument('[targets...]', 'target names (default: all)')
    .option('--json', 'machine-readable output (stable; see README)')
    .action(async (targets: string[], opts: { json?: boolean }, cmd: Command) => {
      const report = await fleetStatus(await configFrom(cmd, 'report'), targets, Date.now, problem);
      if (opts.json) out(JSON.stringify(report, null, 2));
      else for (const line of fleetStatusLines(report)) out(line);
    });
}
