/**
 * Each example in examples/ runs as documented, against a real local origin. The
 * heavy tools (python3 -m venv, pip, mkdocs, npm) are small stubs on PATH that record
 * how they were called; git, pollpray and the deploy scripts are the real ones.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeOrigin, type Origin } from '../helpers/origin.js';
import { linesOf, makeWorld, type World } from '../helpers/pollpray-cli.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');

type Raw = { targets: Record<string, Record<string, unknown>>; [key: string]: unknown };

/** The example as a user would adapt it: our origin, paths under the world, no ssh or restart. */
function adapt(file: string, origin: Origin, world: World, env: Record<string, Record<string, string>> = {}): Raw {
  const raw = parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Raw;
  const abs = (p: unknown) => (typeof p === 'string' ? resolve(EXAMPLES, p) : p);
  for (const [name, t] of Object.entries(raw.targets)) {
    t.repo = origin.url;
    t.path = join(world.dir, 'srv', name);
    delete t.ssh;
    delete t.restart; // covered with real sudo by the run tests
    if (t.deploy) t.deploy = abs(t.deploy);
    if (Array.isArray(t.steps)) for (const step of t.steps as { run: unknown }[]) step.run = abs(step.run);
    if (env[name]) t.env = { ...(t.env as object), ...env[name] };
  }
  delete raw.state_dir;
  delete raw.log;
  delete raw.serve;
  return raw;
}

/** Writes stub tools into <world>/bin; each appends "name args..." to <world>/tools.log. */
function stubs(world: World, tools: Record<string, string>): Record<string, string> {
  const bin = join(world.dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(tools)) {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/bash\necho "${name} $*" >> "${world.dir}/tools.log"\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return { PATH: `${bin}:${process.env.PATH ?? ''}` };
}
const toolCalls = (world: World) => linesOf(join(world.dir, 'tools.log'));

/** python3 -m venv DIR makes DIR/bin/{python,pip,mkdocs} stubs that log as well. */
const VENV_PYTHON = `
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  for tool in python pip; do printf '#!/bin/bash\\necho "venv-%s $*" >> "%s"\\n' "$tool" "$(dirname "$0")/../tools.log" > "$3/bin/$tool"; done
  printf '#!/bin/bash\\necho "venv-mkdocs $*" >> "%s"\\nout="$4"; mkdir -p "$out"; for f in docs/*.md; do cp "$f" "$out/$(basename "$f" .md).html"; done\\n' "$(dirname "$0")/../tools.log" > "$3/bin/mkdocs"
  chmod +x "$3/bin/"*
fi`;

describe('examples/', () => {
  it('django-gunicorn.yaml: venv once, pip only when requirements change, migrate and collectstatic each deploy', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    await origin.commit({ 'requirements.txt': 'django\ngunicorn\n', 'manage.py': '# django\n' }, 'App');
    const venv = join(world.dir, 'venv');
    world.writeConfig(adapt('django-gunicorn.yaml', origin, world, { todo: { VENV: venv } }));
    const env = stubs(world, { python3: VENV_PYTHON });

    const first = await world.cli(['run'], { env });
    expect(first.exitCode, first.stderr).toBe(0);
    await origin.commit({ 'views.py': '# code only\n' }, 'Code change');
    expect((await world.cli(['run'], { env })).exitCode).toBe(0);

    const calls = toolCalls(world);
    expect(calls.filter((c) => c.startsWith('python3 -m venv'))).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('venv-pip install'))).toEqual(['venv-pip install --quiet --disable-pip-version-check -r requirements.txt']);
    expect(calls.filter((c) => c === 'venv-python manage.py migrate --noinput')).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith('venv-python manage.py collectstatic'))).toHaveLength(2);
    expect(world.state('todo')).toMatchObject({ deployedSha: await origin.head(), lastResult: 'deployed' });
  });

  it('static-site.yaml: clones when absent, builds into public_html, survives a force-push', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const good = await origin.commit({ 'requirements.txt': 'mkdocs\n', 'docs/index.md': 'hello\n', 'docs/about.md': 'about\n' }, 'Site');
    await origin.commit({ 'docs/index.md': 'oops\n', 'docs/draft.md': 'draft\n' }, 'Bad post');
    const publicHtml = join(world.dir, 'www', 'public_html');
    world.writeConfig(adapt('static-site.yaml', origin, world, { blog: { PUBLIC_HTML: publicHtml, VENV: join(world.dir, 'venv') } }));
    const env = stubs(world, { python3: VENV_PYTHON });

    expect(existsSync(join(world.dir, 'srv', 'blog'))).toBe(false);
    const first = await world.cli(['run'], { env });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(readdirSync(publicHtml).sort()).toEqual(['about.html', 'draft.html', 'index.html']);

    await origin.forcePushTo(good);
    const second = await world.cli(['run'], { env });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(readdirSync(publicHtml).sort()).toEqual(['about.html', 'index.html']);
    expect(readFileSync(join(publicHtml, 'index.html'), 'utf8')).toBe('hello\n');
    expect(world.logText()).toMatch(/history rewritten: following force-push/);
    // The build directory was swapped in, nothing left beside it.
    expect(readdirSync(join(world.dir, 'www'))).toEqual(['public_html']);
  });

  it('node-app.yaml: staging follows main, production the newest v* tag, each with npm ci and build', async () => {
    const origin = await makeOrigin();
    const world = makeWorld();
    const v1 = await origin.commit({ 'package.json': '{"name":"todo"}\n', 'package-lock.json': '{}\n', 'app.js': 'v1\n' }, 'v1');
    await origin.git(['tag', '-a', 'v1.0.0', '-m', 'v1.0.0', v1]);
    await origin.git(['push', '-q', 'origin', 'v1.0.0']);
    const head = await origin.commit({ 'app.js': 'unreleased\n' }, 'Work in progress');
    world.writeConfig(adapt('node-app.yaml', origin, world));
    const env = stubs(world, {
      npm: `if [ "$1" = ci ]; then mkdir -p node_modules; fi; if [ "$1" = run ]; then mkdir -p dist; cp app.js dist/app.js; fi`,
      logger: '',
    });

    const r = await world.cli(['run'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const srv = join(world.dir, 'srv');
    expect(readFileSync(join(srv, 'todo-staging', 'dist', 'app.js'), 'utf8')).toBe('unreleased\n');
    expect(readFileSync(join(srv, 'todo-production', 'dist', 'app.js'), 'utf8')).toBe('v1\n');
    expect(world.state('todo-staging')).toMatchObject({ deployedSha: head });
    expect(world.state('todo-production')).toMatchObject({ deployedSha: v1 });
    expect(toolCalls(world)).toContain('logger -t pollpray deployed v1.0.0 (' + v1.slice(0, 12) + ') to todo-production');

    await origin.git(['tag', 'v1.1.0', head]);
    await origin.git(['push', '-q', 'origin', 'v1.1.0']);
    expect((await world.cli(['run', 'todo-production'], { env })).exitCode).toBe(0);
    expect(readFileSync(join(srv, 'todo-production', 'dist', 'app.js'), 'utf8')).toBe('unreleased\n');
    expect(toolCalls(world).filter((c) => c.startsWith('npm ci'))).toHaveLength(2); // lockfile unchanged: no reinstall
  });
});
