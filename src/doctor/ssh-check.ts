/**
 * doctor's view of each target's remote: the same diagnosis as `pollpray test-ssh`
 * (src/git/diagnose.ts), so both commands always agree. Key permissions and
 * known_hosts have doctor checks of their own, which run first; here only the
 * lines about reaching the repository and its branch, and an ssh LFS server on another
 * host, are kept.
 */
import { checkTargetSsh } from '../git/diagnose.js';
import type { Check, CheckResult } from './check.js';

const REMOTE_CHECKS = new Set(['ssh', 'ssh config', 'transport', 'connection', 'authentication', 'repository', 'branch', 'lfs connection', 'lfs authentication', 'lfs server']);

export const sshReachability: Check = async ({ config }) => {
  const results: CheckResult[] = [];
  for (const target of config.targets) {
    for (const check of await checkTargetSsh(config, target)) {
      if (REMOTE_CHECKS.has(check.name)) results.push({ ...check, name: `${target.name}: ${check.name}` });
    }
  }
  return results;
};
