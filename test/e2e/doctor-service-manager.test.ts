/** doctor asks systemd about each unit in a restart list (a root-owned stand-in systemctl answers). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeWorld } from '../helpers/pollpray-cli.js';
import { requireRoot } from '../helpers/require-env.js';

describe.skipIf(requireRoot())('doctor and systemd', () => {
  it('fails for a unit systemd does not know and for a masked one, ok for a loaded one', async () => {
    const world = makeWorld();
    const systemctl = world.script(
      'systemctl',
      [
        'case "$1 $4 $5" in',
        '  "is-system-running  ") echo running ;;',
        '  "show --value missing.service") echo not-found ;;',
        '  "show --value hidden.service") echo masked ;;',
        '  "show --value "*) echo loaded ;;',
        'esac',
      ].join('\n'),
    );
    world.writeConfig({ systemctl, targets: { app: { repo: 'file:///nowhere.git', path: join(world.dir, 'www'), restart: ['app.service', 'missing.service', 'hidden.service'] } } });
    const r = await world.cli(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/ok\s+service manager\s+systemd answers \(running\)/);
    expect(r.stdout).toMatch(/ok\s+unit \(app\)\s+app\.service \(loaded\)/);
    expect(r.stdout).toMatch(/FAIL\s+unit \(app\)\s+systemd has no unit missing\.service \(fix: install its unit file, or fix targets\.app\.restart\)/);
    expect(r.stdout).toMatch(/FAIL\s+unit \(app\)\s+hidden\.service is masked, so restarting it fails/);
  });
});
