import { chmodSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeOrigin } from '../helpers/origin.js';
import { linesOf, makeWorld, type World } from '../helpers/pollpray-cli.js';

/** A real HTTP endpoint on 127.0.0.1 that records the JSON bodies posted to it. */
async function messageSink(): Promise<{ url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

/** A step command that appends its name and each argument (one per line) to order.log. */
function recorder(world: World): string {
  return world.script('record.sh', `{ printf '%s\\n' "$@"; } >> "${world.dir}/order.log"`);
}
const order = (world: World) => linesOf(join(world.dir, 'order.log'));

describe('pipelines (steps instead of one deploy script)', () => {
  it('runs steps in order, picks handlers by result, and stops at the first failing step', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const sink = await messageSink();
    const record = recorder(world);
    const recordOutput = world.script('record-output.sh', `printf '%s\\n' "$1: $POLLPRAY_STEP_OUTPUT" >> "${world.dir}/order.log"`);
    const install = world.script('install.sh', `printf '%s\\n' install "$1" >> "${world.dir}/order.log"; echo "installed 3 packages"`);
    const fail = world.script('fail.sh', 'echo "migration 0042 is broken" >&2; exit 3');
    world.writeConfig({
      targets: {
        app: {
          repo: origin.url,
          path: join(world.dir, 'app'),
          steps: [
            { name: 'install', run: [install, '{{short_sha}}'], on_success: { run: [recordOutput, 'install ok'] }, on_failure: { run: [record, 'install failed'] } },
            { name: 'migrate', run: fail, timeout: '5s', on_success: { run: [record, 'migrate ok'] }, on_failure: { message: '{{target}}: {{step.name}} failed at {{short_sha}}: {{step.output}}', webhook: sink.url } },
            { name: 'never', run: [record, 'never'] },
          ],
        },
      },
    });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/app: step "migrate" exited with 3: migration 0042 is broken/);
    const short = (await origin.head()).slice(0, 12);
    expect(order(world)).toEqual(['install', short, 'install ok: installed 3 packages']);
    expect(sink.bodies).toEqual([
      { text: `app: migrate failed at ${short}: migration 0042 is broken`, target: 'app', sha: await origin.head(), step: 'migrate', result: 'failure' },
    ]);
    expect(world.state('app')).toMatchObject({ deployedSha: null, lastResult: 'failed' });
    expect(world.logText()).toMatch(/WARN .*\[app\] .*step migrate on_failure: app: migrate failed at/);
  });

  it('a successful pipeline deploys; templated env reaches the steps', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const previous = await origin.head();
    const sha = await origin.commit({ 'a.txt': '2\n' }, 'Second');
    const show = world.script('show.sh', `echo "prev=$PREVIOUS tag=[$POLLPRAY_TAG] step=$POLLPRAY_STEP" >> "${world.dir}/order.log"`);
    world.writeConfig({
      targets: { app: { repo: origin.url, path: join(world.dir, 'app'), steps: [{ name: 'show', run: [show], env: { PREVIOUS: 'was {{previous_sha}} now {{sha}}' } }] } },
    });
    expect((await world.cli(['run'])).exitCode).toBe(0);
    expect(order(world)).toEqual([`prev=was  now ${sha} tag=[] step=show`]);
    expect(world.state('app')).toMatchObject({ deployedSha: sha, lastResult: 'deployed' });
    expect(previous).not.toBe(sha);
  });

  it('a branch name and commit subject full of shell syntax run nothing and arrive intact', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const sink = await messageSink();
    const branch = 'inj-$(touch${IFS}pwned-branch);`touch${IFS}pwned-tick`';
    const subject = 'Fix $(touch pwned-subject) `touch pwned-tick2`; touch pwned-semi';
    const sha = await origin.commit({ 'x.txt': 'x\n' }, subject);
    await origin.createBranch(branch, sha);
    const record = recorder(world);
    const path = join(world.dir, 'app');
    world.writeConfig({
      targets: {
        app: {
          repo: origin.url,
          branch,
          path,
          steps: [
            { name: 'args', run: [record, '{{sha}}', '{{target}}'], on_success: { message: 'deployed {{subject}} from {{branch}}', webhook: sink.url } },
            // Text from the repository reaches a shell only as data: the POLLPRAY_* environment.
            { name: 'shell', run: ['sh', '-c', 'printf "%s\\n" "$POLLPRAY_BRANCH" "$POLLPRAY_SUBJECT" >> ../order.log'] },
          ],
        },
      },
    });
    const r = await world.cli(['run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(order(world)).toEqual([sha, 'app', branch, subject]);
    expect(sink.bodies[0]?.text).toBe(`deployed ${subject} from ${branch}`);
    for (const dir of [world.dir, path]) expect(readdirSync(dir).filter((f) => f.startsWith('pwned'))).toEqual([]);
  });

  it('validate refuses commit text in a command, an unknown placeholder, and deploy with steps', async () => {
    const world = makeWorld();
    world.writeConfig({
      targets: {
        app: {
          repo: 'file:///nowhere.git',
          path: '/srv/app',
          deploy: 'deploy.sh',
          steps: [{ name: 'bad', run: ['nice', 'bash', '-ec', 'echo {{branch}}'], on_failure: { message: 'failed {{brnach}}' } }],
        },
      },
    });
    const r = await world.cli(['validate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pollpray\.yaml:\d+ targets\.app\.steps\[0\]\.run\[3\]: \{\{branch\}\} carries text from the repository .* use \$POLLPRAY_BRANCH in your script instead/);
    expect(r.stderr).toMatch(/targets\.app\.steps\[0\]\.on_failure\.message: unknown placeholder \{\{brnach\}\}/);
    expect(r.stderr).toMatch(/targets\.app\.steps: a target has either deploy \(one script\) or steps/);
  });

  it('a step program from the config that cannot start is a host fault: not counted, the next run after chmod +x deploys', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const build = world.script('build.sh', 'exit 0');
    chmodSync(build, 0o644);
    world.writeConfig({ targets: { app: { repo: origin.url, path: join(world.dir, 'app'), steps: [{ name: 'build', run: [build] }] } } });
    const r = await world.cli(['run']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`app: step "build": ${build} is missing or not executable; not counted against \\w{12}.*\\(fix: chmod \\+x ${build}, or fix targets\\.app\\.steps\\[0\\]\\.run\\)`));
    // Found before the code moved: no file of the commit was checked out.
    expect(readdirSync(join(world.dir, 'app'))).toEqual(['.git']);
    expect(world.state('app')).toMatchObject({ failures: {} });
    chmodSync(build, 0o755);
    const ok = await world.cli(['run']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(world.state('app')).toMatchObject({ lastResult: 'deployed', deployedSha: await origin.head() });
  });
});
