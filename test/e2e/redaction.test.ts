import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startReceiver } from '../helpers/http-receiver.js';
import { freePort } from '../helpers/sshd.js';
import { makeOrigin } from '../helpers/origin.js';
import { makeWorld } from '../helpers/pollpray-cli.js';

// Every kind of secret the redactor knows, each with a distinctive part to grep for.
const GITHUB = 'ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
const GITHUB_FINE = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz';
const GITLAB = 'glpat-abcdefghij0123456789xyz';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const BEARER = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123';
const KEY_BODY = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ';
const URL_PASSWORD = 'hunter2pass';
const DATABASE_URL = 'postgres://app:dbpass-9f8e7d@db.internal.example/app';
const API_KEY = 'plainvalue-x7y8z9'; // no token shape: only secret_env can know it
const REPO_TOKEN = 'ghs_repoTokenZZZZZZZZZZZZZZZZZZZZZZZZ';
const WEBHOOK_SECRET = 'B0SECRETPATH';
const PLANTED = [GITHUB, GITHUB_FINE, GITLAB, AWS, BEARER, KEY_BODY, URL_PASSWORD, 'dbpass-9f8e7d', 'db.internal.example', API_KEY, REPO_TOKEN, WEBHOOK_SECRET];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('redaction', () => {
  it('planted secrets never reach log files, stderr, notifications, heartbeat, metrics or state', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const receiver = await startReceiver();
    // The script prints every secret on both streams, a private key block over several
    // lines, and fails with a secret in its last line (which becomes the error message).
    const deploy = world.script(
      'deploy.sh',
      [
        `echo "cloning https://deploy:${URL_PASSWORD}@git.example.com/acme/app.git"`,
        `echo "token ${GITHUB} and ${GITHUB_FINE}" >&2`,
        `echo "gitlab ${GITLAB} aws ${AWS}"`,
        `echo "Authorization: Bearer ${BEARER}" >&2`,
        'echo "-----BEGIN OPENSSH PRIVATE KEY-----"',
        `echo "${KEY_BODY}"`,
        'echo "-----END OPENSSH PRIVATE KEY-----"',
        'echo "db is $DATABASE_URL, key is $API_KEY"',
        'echo "connecting to $DATABASE_URL failed with $API_KEY" >&2',
        'exit 3',
      ].join('\n'),
    );
    const dead = await freePort();
    world.writeConfig({
      secret_env: ['DATABASE_URL'],
      notify: [{ webhook: `${receiver.url}/services/T000/${WEBHOOK_SECRET}`, timeout: '2s' }],
      heartbeat_url: `${receiver.url}/ping/uuid`,
      heartbeat_timeout: '2s',
      metrics_file: join(world.dir, 'pollpray.prom'),
      targets: {
        app: { repo: origin.url, path: join(world.dir, 'www', 'app'), deploy, env: { API_KEY }, secret_env: ['API_KEY'] },
        // A token in the repo URL: git gets it from its environment, and the error never shows it.
        private: { repo: `https://x-access-token:${REPO_TOKEN}@127.0.0.1:${dead}/acme/private.git`, path: join(world.dir, 'www', 'private') },
      },
    });

    const r = await world.cli(['run'], { env: { DATABASE_URL } });
    expect(r.exitCode).toBe(1);
    await receiver.waitFor(3); // two failed notifications and the fail ping

    const log = world.logText();
    // The planted output did reach the log, redacted: the test would notice a script that printed nothing.
    expect(log).toMatch(/cloning https:\/\/deploy:\*\*\*@git\.example\.com/);
    expect(log).toMatch(/db is \[REDACTED\], key is \[REDACTED\]/);
    expect(log).toContain('[REDACTED PRIVATE KEY]');
    // The repo URL's credentials are not on git's command line at all (they go in its environment).
    expect(log).toMatch(/exec git .*ls-remote -- https:\/\/127\.0\.0\.1:\d+\/acme\/private\.git/);
    expect(r.stderr).toMatch(/app: deploy script exited with 3: connecting to \[REDACTED\] failed with \[REDACTED\]/);
    expect(receiver.requests.map((q) => q.path)).toContain(`/services/T000/${WEBHOOK_SECRET}`);

    const places: Record<string, string> = {
      stdout: r.stdout,
      stderr: r.stderr,
      ...Object.fromEntries(filesUnder(world.logDir).map((f) => [f, readFileSync(f, 'utf8')])),
      ...Object.fromEntries(filesUnder(world.stateDir).map((f) => [f, readFileSync(f, 'utf8')])),
      metrics: readFileSync(join(world.dir, 'pollpray.prom'), 'utf8'),
      ...Object.fromEntries(receiver.requests.map((q, i) => [`request ${i} ${q.path.startsWith('/ping') ? 'heartbeat' : 'webhook'}`, q.body])),
    };
    expect(Object.keys(places).some((p) => p.endsWith('state.json'))).toBe(true);
    expect(Object.keys(places).some((p) => p.endsWith('history.jsonl'))).toBe(true);
    const leaks = Object.entries(places).flatMap(([where, text]) => PLANTED.filter((s) => text.includes(s)).map((s) => `${s} in ${where}`));
    expect(leaks).toEqual([]);
  });
});
