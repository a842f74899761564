#!/usr/bin/env node
// Goal 2's floor under the fixed choices: the least any Node program that starts its
// processes through execa (as pollpray must) spends on the 20-target no-change poll.
// No config, no state, no logs, no trust checks: Node starts, execa loads, the ssh
// master opens, 20 `git ls-remote`s run CONCURRENCY at a time over it, the master closes.
//   node bench/node-floor.mjs <ssh_config> <control dir> [targets=20] [concurrency=4]
import { execa } from 'execa';

const [sshConfig, dir, count = '20', concurrency = '4'] = process.argv.slice(2);
const controlPath = `${dir}/cm-floor-%C`;
const ssh = ['-F', sshConfig, '-o', `ControlPath=${controlPath}`];
await execa('ssh', [...ssh, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=30s', '-N', 'pp-origin'], { stdin: 'ignore' });
const env = {
  GIT_SSH_COMMAND: `ssh -F ${sshConfig} -o ControlMaster=auto -o ControlPath=${controlPath} -o ControlPersist=30s`,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};
let next = 1;
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (next <= Number(count)) {
      const i = next++;
      await execa('git', ['ls-remote', `pp-origin:repos/app${i}.git`, 'refs/heads/main'], { env, stdin: 'ignore' });
    }
  }),
);
await execa('ssh', [...ssh, '-O', 'exit', 'pp-origin'], { reject: false, stdin: 'ignore' });
