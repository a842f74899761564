/**
 * Text an attacker controls (rows 36-40 of the failure-modes table): commit subjects
 * and tags chosen by whoever can push, script output from the pushed code, secrets the
 * config declares, credentials in a repo URL, and unit names that read as options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGitHttp } from '../helpers/git-http.js';
import { startReceiver } from '../helpers/http-receiver.js';
import { until } from '../helpers/pollpray-cli.js';
import { expectOneLineError, faultWorld, short } from './fault-world.js';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

const pwned = (...dirs: string[]) => dirs.flatMap((d) => (existsSync(d) ? readdirSync(d, { recursive: true, encoding: 'utf8' }) : [])).filter((f) => f.includes('pwned'));

describe('hostile text', { timeout: 60_000 }, () => {
  it('#36 commit text in a command or env value (subject, tag, branch, step output after env sh -c, nice bash -c, timeout sh -c, python3 -c, as a plain argument, in BASH_ENV): refused at validate, nothing runs', async () => {
    const f = await faultWorld();
    const w = f.world.dir;
    await f.origin.commit({ 'a.txt': '1\n' }, `release $(touch ${w}/pwned-subject)`);
    const commands: [unknown[], string][] = [
      [['env', 'sh', '-c', 'echo {{subject}}'], 'POLLPRAY_SUBJECT'],
      [['nice', 'bash', '-c', 'echo {{subject}}'], 'POLLPRAY_SUBJECT'],
      [['timeout', '5s', 'sh', '-c', 'echo {{tag}}'], 'POLLPRAY_TAG'],
      [['python3', '-c', 'import os; os.system("echo {{subject}}")'], 'POLLPRAY_SUBJECT'],
      [[f.world.script('args.sh', 'eval "$1"'), '{{subject}}'], 'POLLPRAY_SUBJECT'],
      [['env', 'BRANCH={{branch}}', 'sh', '-c', 'eval "$BRANCH"'], 'POLLPRAY_BRANCH'],
    ];
    for (const [run, variable] of commands) {
      f.write({ deploy: undefined, steps: [{ name: 'build', run }] });
      for (const cmd of [['validate'], ['run']]) {
        const r = await f.world.cli(cmd);
        expect(r.exitCode, `${JSON.stringify(run)} ${cmd[0]}`).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`pollpray\\.yaml:\\d+ targets\\.app\\.steps\\[0\\]\\.run\\[\\d\\]: .* use \\$${variable} in your script instead`));
      }
    }
    // So is an env value (BASH_ENV is sourced by bash), and a handler command with the step's output.
    f.write({ deploy: undefined, steps: [{ name: 'build', run: ['bash', '-c', 'true'], env: { BASH_ENV: '{{subject}}' } }] });
    expect((await f.world.cli(['run'])).stderr).toMatch(/steps\[0\]\.env\.BASH_ENV: \{\{subject\}\} .* use \$POLLPRAY_SUBJECT/);
    f.write({ deploy: undefined, steps: [{ name: 'build', run: ['true'], on_failure: { run: ['sh', '-c', 'echo {{step.output}}'] } }] });
    expect((await f.world.cli(['validate'])).stderr).toMatch(/steps\[0\]\.on_failure\.run\[2\]: \{\{step\.output\}\} .* use \$POLLPRAY_STEP_OUTPUT/);
    expect(f.calls()).toEqual([]);
    expect(existsSync(f.path)).toBe(false);

    // The way that works: the subject as data in the environment.
    f.write({ deploy: undefined, steps: [{ name: 'build', run: ['sh', '-c', `printf '%s\\n' "$POLLPRAY_SUBJECT" > ${w}/subject.txt`] }] });
    const ok = await f.world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(readFileSync(join(w, 'subject.txt'), 'utf8')).toBe(`release $(touch ${w}/pwned-subject)\n`);
    expect(pwned(w, f.path)).toEqual([]);
  });

  it('#36 a tag with shell text before its version (v$(touch…)9.9.9) is not a version: the real newest tag deploys', async () => {
    const f = await faultWorld();
    const w = f.world.dir;
    const v1 = await f.origin.commit({ 'a.txt': '1\n' }, 'One');
    const evil = await f.origin.commit({ 'a.txt': 'evil\n' }, 'Evil');
    const tags: [string, string][] = [
      ['v1.0.0', v1],
      ['v$(touch${IFS}pwned-tag)9.9.9', evil],
      ['v`touch${IFS}pwned-tick`9.9.8', evil],
      ['v9.9.7;touch${IFS}pwned-semi', evil],
    ];
    for (const [name, sha] of tags) await f.origin.git(['tag', name, sha]);
    await f.origin.git(['push', '-q', 'origin', '--tags']);
    f.write({ tags: 'v*', deploy: f.world.script('tag.sh', `printf '%s\\n' "$POLLPRAY_TAG" >> ${w}/tags.log`) });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(v1));
    expect(readFileSync(join(w, 'tags.log'), 'utf8')).toBe('v1.0.0\n');
    expect(pwned(w, f.path)).toEqual([]);
  });

  it('#37 a secret in steps[].env (per-target or top-level secret_env) or in the repo URL: absent from stderr, log, state, history, status, notifications and the heartbeat', async () => {
    const STEP_SECRET = 'stepvalue-k4j5h6g7'; // no token shape: only secret_env can know it
    const TOP_SECRET = 'topvalue-z1x2c3v4';
    const HANDLER_HOOK = 'HOOKPATH-q9w8e7';
    const f = await faultWorld();
    const receiver = await startReceiver();
    const notified = join(f.world.dir, 'notified.txt');
    const notifier = f.world.script('notify.sh', `{ cat; env | grep '^POLLPRAY_'; } >> "${notified}"`);
    const leaky = f.world.script(
      'leaky.sh',
      ['echo "using $STEP_TOKEN and $TOP_TOKEN"', 'echo "auth with $STEP_TOKEN" >&2', '[ -f fail ] && { echo "failed: $STEP_TOKEN / $TOP_TOKEN" >&2; exit 3; }', 'true'].join('\n'),
    );
    f.write(
      {
        deploy: undefined,
        secret_env: ['STEP_TOKEN'],
        steps: [
          {
            name: 'build',
            run: [leaky],
            env: { STEP_TOKEN: STEP_SECRET, TOP_TOKEN: TOP_SECRET },
            on_success: { message: 'built: {{step.output}}', webhook: `${receiver.url}/chat/${HANDLER_HOOK}` },
            on_failure: { message: 'failed: {{step.output}}', webhook: `${receiver.url}/chat/${HANDLER_HOOK}` },
          },
        ],
      },
      {
        secret_env: ['TOP_TOKEN'],
        notify: [
          { webhook: `${receiver.url}/notify`, on: ['deployed', 'failed'], timeout: '5s' },
          { command: [notifier], on: ['deployed', 'failed'], timeout: '5s' },
        ],
        heartbeat_url: `${receiver.url}/ping`,
        heartbeat_timeout: '5s',
      },
    );
    const good = await f.world.cli(['run']);
    expect(good.exitCode, good.stderr).toBe(0);
    await f.origin.commit({ fail: '' }, 'Fails');
    const bad = await f.world.cli(['run']);
    expect(bad.exitCode).toBe(1);
    expectOneLineError(bad.stderr, 'app', /step "build" exited with 3: failed: \[REDACTED\] \/ \[REDACTED\]/);
    // deployed: webhook, chat, heartbeat; failed: the same three.
    await receiver.waitFor(6);
    await until(() => existsSync(notified) && readFileSync(notified, 'utf8').includes('POLLPRAY_EVENT=failed'), 5000, 'the failure notification');
    expect(f.world.logText()).toMatch(/using \[REDACTED\] and \[REDACTED\]/);

    const views = await Promise.all([['status'], ['status', '--json'], ['history'], ['history', '--json']].map((a) => f.world.cli(a)));
    const places: Record<string, string> = {
      'run stdout': good.stdout + bad.stdout,
      'run stderr': good.stderr + bad.stderr,
      'command notification': readFileSync(notified, 'utf8'),
      ...Object.fromEntries(views.map((v, i) => [`view ${i}`, v.stdout + v.stderr])),
      ...Object.fromEntries(receiver.requests.map((q, i) => [`request ${i} ${q.path.split('/')[1]}`, q.body])),
      ...Object.fromEntries([...filesUnder(f.world.logDir), ...filesUnder(f.world.stateDir)].map((p) => [p, readFileSync(p, 'utf8')])),
    };
    expect(places['view 1']).toMatch(/"last_error": ".*\[REDACTED\]/);
    expect(Object.keys(places).some((p) => p.endsWith('state.json'))).toBe(true);
    expect(Object.keys(places).some((p) => p.endsWith('history.jsonl'))).toBe(true);
    expect(receiver.requests.map((q) => q.path)).toEqual(expect.arrayContaining(['/notify', '/ping', '/ping/fail', `/chat/${HANDLER_HOOK}`]));
    const leaks = Object.entries(places).flatMap(([where, text]) => [STEP_SECRET, TOP_SECRET, HANDLER_HOOK].filter((s) => text.includes(s)).map((s) => `${s} in ${where}`));
    expect(leaks).toEqual([]);
  });

  it('#38 credentials in an http(s) repo URL are never on a command line: git gets them from its environment', async () => {
    const PASSWORD = 'urlsecret-m3n4b5';
    const f = await faultWorld();
    const server = await startGitHttp(f.origin, 'deploy', PASSWORD, PASSWORD);
    const head = await f.origin.head();
    f.write({ repo: server.url.replace('http://', `http://deploy:${PASSWORD}@`) });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(head));
    // The credentials did reach the server, and no process showed them while git talked to it.
    const basic = `Basic ${Buffer.from(`deploy:${PASSWORD}`).toString('base64')}`;
    expect(server.authorizations.filter((a) => a === basic).length).toBeGreaterThan(1);
    expect(server.exposed).toEqual([]);
    // Nor are they written into the checkout's .git/config, or shown by status.
    expect(readFileSync(join(f.path, '.git', 'config'), 'utf8')).not.toContain(PASSWORD);
    const status = await f.world.cli(['status', '--json']);
    expect(status.stdout).toContain(server.url);
    expect(status.stdout).not.toContain(PASSWORD);
    expect(f.world.logText()).not.toContain(PASSWORD);

    // A checkout cloned the old way (credentials in .git/config) has them removed at the next fetch.
    const withCredentials = server.url.replace('http://', `http://deploy:${PASSWORD}@`);
    execFileSync('git', ['-C', f.path, 'config', 'remote.origin.url', withCredentials]);
    const next = await f.origin.commit({ 'c.txt': '3\n' }, 'Three');
    expect((await f.world.cli(['run'])).exitCode).toBe(0);
    expect(f.live()).toBe(short(next));
    expect(readFileSync(join(f.path, '.git', 'config'), 'utf8')).not.toContain(PASSWORD);
    expect(execFileSync('git', ['-C', f.path, 'config', 'remote.origin.url'], { encoding: 'utf8' }).trim()).toBe(server.url);

    // A wrong password fails as an authentication error, without the password.
    f.write({ repo: server.url.replace('http://', 'http://deploy:wrong-password-1@') });
    await f.origin.commit({ 'b.txt': '2\n' }, 'Two');
    const denied = await f.world.cli(['run']);
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr).not.toContain('wrong-password-1');
    expect(server.exposed).toEqual([]);
  });

  it('#39 escape sequences in a commit subject and in script output never reach the terminal, log, status, history or notifications raw', async () => {
    const ESC = '\u001b';
    const subject = `Deploy ${ESC}]0;owned${'\u0007'}${ESC}[2J${ESC}[31mred\rfake${'\u009b'}1m line`;
    const f = await faultWorld({ script: `printf 'building \\033[2J\\033]0;title\\007 done\\r\\n'\n[ -f fail ] && { printf 'broke \\033[31mhere\\033[0m\\n' >&2; exit 3; }\ntrue` });
    const receiver = await startReceiver();
    f.write({}, { notify: [{ webhook: `${receiver.url}/notify`, on: ['deployed', 'failed'], timeout: '5s' }], heartbeat_url: `${receiver.url}/ping`, heartbeat_timeout: '5s' });
    await f.origin.commit({ 'a.txt': '1\n' }, subject);
    const good = await f.world.cli(['run']);
    expect(good.exitCode, good.stderr).toBe(0);
    await f.origin.commit({ fail: '' }, `${ESC}[8mhidden${ESC}[0m fails`);
    const bad = await f.world.cli(['run']);
    expect(bad.exitCode).toBe(1);
    expectOneLineError(bad.stderr, 'app', /deploy script exited with 3: broke .*here/);
    await receiver.waitFor(4);
    const views = await Promise.all([['status'], ['status', '--json'], ['history'], ['history', '--json']].map((a) => f.world.cli(a)));
    // One line per entry: a CR in the subject does not forge a second row (header, two entries, one error line).
    expect(views[2]!.stdout, JSON.stringify(views[2]!.stdout)).toMatch(/Deploy .*owned.*red\^Mfake/);
    expect(views[2]!.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(f.world.logText()).toMatch(/deployed \w+ "Deploy \^\[\]0;owned\^G.*red\^MfakeM-\^\[1m line"/);
    const places: Record<string, string> = {
      'run output': good.stdout + good.stderr + bad.stdout + bad.stderr,
      ...Object.fromEntries(views.map((v, i) => [`view ${i}`, v.stdout + v.stderr])),
      ...Object.fromEntries(receiver.requests.map((q, i) => [`request ${i} ${q.path}`, q.body])),
      ...Object.fromEntries([...filesUnder(f.world.logDir), ...filesUnder(join(f.world.stateDir, 'targets'))].map((p) => [p, readFileSync(p, 'utf8')])),
    };
    expect(f.world.logText()).toMatch(/building .*title.* done/);
    // Raw control characters (and their JSON escapes, which a consumer would decode) other than newline and tab.
    // eslint-disable-next-line no-control-regex
    const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\\u00(?:0[0-8bcef]|1[0-9a-f]|7f|8[0-9a-f]|9[0-9a-f])|\\r/i;
    const raw = Object.entries(places).filter(([, text]) => RAW.test(text)).map(([where, text]) => `${where}: ${JSON.stringify(RAW.exec(text)?.[0])}`);
    expect(raw).toEqual([]);
  });

  it('#81 a line of one long word (a deploy script printing a generated file from the commit) is redacted in linear time: the run ends as it would, timeouts still fire', async () => {
    // 512 KiB without a space: the redactor's URL rule once began a scan at every letter of it.
    const word = 'x'.repeat(512 * 1024);
    const f = await faultWorld({ script: '[ -f long.txt ] && cat long.txt\n[ -f hang ] && sleep 30\ntrue' });
    const sha = await f.origin.commit({ 'long.txt': `${word}\n` }, 'Ship a generated file');
    const r = await f.world.cli(['run'], { timeoutMs: 50_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.durationMs).toBeLessThan(20_000);
    expect(f.live()).toBe(short(sha));
    expect(f.world.logText()).toContain(word.slice(0, 1000));

    // The same line from a script that then hangs: deploy_timeout (5s) still ends it.
    await f.origin.commit({ hang: '' }, 'Print it and hang');
    const hung = await f.world.cli(['run'], { timeoutMs: 50_000 });
    expect(hung.exitCode, hung.stderr).toBe(1);
    expectOneLineError(hung.stderr, 'app', /deploy script timed out after 5(\.0)?s/);
    expect(hung.durationMs).toBeLessThan(25_000);
    expect(f.live()).toBe(short(sha));
  });

  it('#82 a commit subject of 300 KiB (over the kernel\'s 128 KiB limit for one environment string): the commit deploys, its subject cut to 1000 characters everywhere', async () => {
    const f = await faultWorld({ script: 'printf \'%s\' "$POLLPRAY_SUBJECT" > subject.seen' });
    const subject = `Release ${'notes '.repeat(50_000)}`;
    // Not through argv: git commit -m with it would hit the same kernel limit.
    writeFileSync(join(f.origin.dir, 'message'), `${subject}\n`);
    writeFileSync(join(f.origin.work, 'a.txt'), '1\n');
    await f.origin.git(['add', 'a.txt']);
    await f.origin.git(['commit', '-q', '-F', join(f.origin.dir, 'message')]);
    await f.origin.git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
    const sha = await f.origin.head();
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(f.live()).toBe(short(sha));
    const seen = readFileSync(join(f.path, 'subject.seen'), 'utf8');
    expect(seen).toBe(`${subject.slice(0, 999)}…`);
    const history = f.world.history('app');
    expect(history.at(-1)).toMatchObject({ result: 'deployed', subject: seen });
    expect(f.world.logText()).toContain(`"${seen}"`);
    expect(f.world.logText()).not.toContain(subject.slice(0, 1100));
  });

  it('#87 a subject or script output with printf tokens (%s, %d, %j): every entry of the JSON log keeps its time, target, commit and step', async () => {
    const f = await faultWorld({ script: `printf '%s\\n' 'built %s of %d files, %j'` });
    const sha = await f.origin.commit({ 'a.txt': '1\n' }, 'Bump %s to %d (%j %o %%)');
    f.write({}, { log: { dir: f.world.logDir, level: 'info', format: 'json' } });
    const r = await f.world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const entries = f.world.logText().trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const e of entries) expect(e, JSON.stringify(e)).toMatchObject({ timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT.+Z$/), target: 'app' });
    expect(entries).toContainEqual(expect.objectContaining({ message: 'built %s of %d files, %j', target: 'app', commit: sha, step: 'script' }));
    expect(entries).toContainEqual(expect.objectContaining({ message: `deployed ${short(sha)} "Bump %s to %d (%j %o %%)"`, target: 'app', commit: sha, step: 'done' }));
  });

  it('#40 a unit name starting with "-" (-Hx@evil.service) is refused at validate and gets no sudoers line', async () => {
    const f = await faultWorld();
    for (const unit of ['-Hx@evil.service', '--host=evil.service']) {
      f.write({ restart: ['app.service', unit] });
      const v = await f.world.cli(['validate']);
      expect(v.exitCode).toBe(2);
      expect(v.stderr).toMatch(/targets\.app\.restart\[1\]: must be a systemd unit name like app\.service/);
      const s = await f.world.cli(['sudoers', '--user', 'nobody']);
      expect(s.exitCode).toBe(2);
      expect(s.stdout).not.toContain('evil');
    }
  });
});
