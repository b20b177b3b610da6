import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { copies, finalWorkdir, inBuildContext, instructions, labels, parseDockerfile, type Stage } from './image/dockerfile.js';
import { REPO_ROOT } from './manifests/render.js';

const run = promisify(execFile);
const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  license: string;
  bin: Record<string, string>;
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((st) => st.name === name);
  assert.ok(s, `no stage ${name}`);
  return s;
};
const runtime = dockerfile.stages[dockerfile.stages.length - 1];

/** Node 24 for running the built CLI: this process if it is 24, else the node@24 devDependency. */
function node24(): string {
  if (process.versions.node.startsWith('24.')) return process.execPath;
  return join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

describe('Dockerfile', () => {
  describe('test/image/dockerfile (the reader)', () => {
    it('joins continuations, skips comments, substitutes global ARGs into FROM, parses exec form', () => {
      const parsed = parseDockerfile(
        [
          '# syntax=docker/dockerfile:1',
          'ARG BASE=node:24-slim',
          'FROM ${BASE} AS b',
          'RUN a \\',
          '  # note',
          '  && b',
          'ENTRYPOINT ["node", "x.js"]',
        ].join('\n'),
      );

      assert.deepEqual(parsed.globalArgs, { BASE: 'node:24-slim' });
      assert.equal(parsed.stages[0].from, 'node:24-slim');
      assert.deepEqual(
        parsed.stages[0].instructions.map((i) => [i.keyword, i.raw]),
        [
          ['RUN', 'a && b'],
          ['ENTRYPOINT', '["node", "x.js"]'],
        ],
      );
      assert.deepEqual(parsed.stages[0].instructions[1].exec, ['node', 'x.js']);
    });

    it('resolves COPY destinations against WORKDIR', () => {
      const [s] = parseDockerfile('FROM x\nWORKDIR /app\nCOPY --from=b /src/dist ./dist\nCOPY a b /opt/\n').stages;

      assert.deepEqual(
        copies(s).map((c) => [c.from, c.sources, c.absoluteDestination]),
        [
          ['b', ['/src/dist'], '/app/dist'],
          [undefined, ['a', 'b'], '/opt'],
        ],
      );
    });

    const ignoreCases: [string, string, boolean][] = [
      ['*\n!src', 'src/a.ts', true],
      ['*\n!src', 'test/a.ts', false],
      ['*\n!src\n**/*.test.ts', 'src/a.test.ts', false],
      ['node_modules', 'node_modules/x/index.js', false],
      ['', 'anything', true],
    ];
    for (const [rules, path, expected] of ignoreCases) {
      it(`.dockerignore ${JSON.stringify(rules)}: ${path} is ${expected ? 'sent' : 'left out'}`, () => {
        assert.equal(inBuildContext(path, rules), expected);
      });
    }
  });

  it('has build, deps and runtime stages, the runtime one last', () => {
    assert.deepEqual(
      dockerfile.stages.map((s) => s.name),
      ['build', 'deps', 'runtime'],
    );
  });

  it('builds every stage on the Node major of package.json engines and the node devDependency', () => {
    const major = /^>=(\d+)/.exec(pkg.engines.node)?.[1];
    assert.equal(pkg.devDependencies.node.split('.')[0], major);

    for (const s of dockerfile.stages)
      assert.match(s.from, new RegExp(`^node:${major}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$`), s.name);
  });

  it('build stage: all dependencies, then the TypeScript build', () => {
    const runs = instructions(stage('build'), 'RUN').map((i) => i.raw);

    assert.ok(
      runs.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')),
      runs.join(' | '),
    );
    assert.ok(
      runs.some((r) => r === 'npm run build'),
      runs.join(' | '),
    );
    assert.equal(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.build, 'tsc -p tsconfig.build.json');
  });

  it('deps stage: production dependencies only, without install scripts (prepare would need tsc)', () => {
    const runs = instructions(stage('deps'), 'RUN').map((i) => i.raw);

    assert.ok(
      runs.some((r) => /^npm ci\b/.test(r) && r.includes('--omit=dev') && r.includes('--ignore-scripts')),
      runs.join(' | '),
    );
  });

  it('runtime: a numeric non-root USER, the CLI as exec-form ENTRYPOINT, /tmp as HOME and TMPDIR', () => {
    const users = instructions(runtime, 'USER');
    const entrypoint = instructions(runtime, 'ENTRYPOINT');
    const env = instructions(runtime, 'ENV')
      .map((i) => i.raw)
      .join(' ');

    assert.equal(users.length, 1);
    const [uid, gid] = users[0].raw.split(':');
    assert.match(uid, /^\d+$/);
    assert.notEqual(Number(uid), 0);
    assert.ok(gid === undefined || (/^\d+$/.test(gid) && Number(gid) !== 0));
    assert.equal(runtime.instructions[runtime.instructions.length - 3]?.keyword, 'USER', 'USER comes after everything that needs root');
    assert.deepEqual(
      entrypoint.map((e) => e.exec),
      [['node', '/app/dist/jobs/cli.js']],
    );
    assert.equal(`${finalWorkdir(runtime)}/${pkg.bin['secret-steward']}`, '/app/dist/jobs/cli.js', 'the entrypoint is the package bin');
    assert.match(env, /HOME=\/tmp/);
    assert.match(env, /TMPDIR=\/tmp/);
  });

  it('runtime: copies everything the entrypoint needs, from the stages that make it', () => {
    const copied = copies(runtime);
    const outDir = (JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string } })
      .compilerOptions.outDir;
    const byDestination = Object.fromEntries(copied.map((c) => [c.absoluteDestination, c]));

    assert.deepEqual(byDestination['/app/dist'], {
      from: 'build',
      sources: [`${finalWorkdir(stage('build'))}/${outDir}`],
      destination: './dist',
      absoluteDestination: '/app/dist',
    });
    assert.equal(byDestination['/app/node_modules']?.from, 'deps', 'production node_modules');
    assert.deepEqual(byDestination['/app/node_modules']?.sources, [`${finalWorkdir(stage('deps'))}/node_modules`]);
    assert.ok(byDestination['/app/package.json'], 'package.json ("type": "module" and the version)');
    assert.ok(
      copied.every((c) => c.from !== undefined),
      'nothing in the runtime stage comes straight from the build context',
    );
  });

  it('every file the build copies from the context exists and passes .dockerignore', () => {
    const sources = dockerfile.stages.flatMap((s) =>
      copies(s)
        .filter((c) => c.from === undefined)
        .flatMap((c) => c.sources),
    );

    assert.ok(sources.length > 0);
    for (const source of sources) {
      const path = join(REPO_ROOT, source);
      assert.ok(existsSync(path), `${source} does not exist`);
      const files = statSync(path).isDirectory() ? listFiles(path) : [path];
      for (const f of files.filter((f) => !f.endsWith('.test.ts')))
        assert.ok(inBuildContext(relative(REPO_ROOT, f), dockerignore), `${relative(REPO_ROOT, f)} is excluded by .dockerignore`);
    }
  });

  it('.dockerignore keeps the working tree out of the context', () => {
    for (const path of [
      'node_modules/yaml/package.json',
      'dist/jobs/cli.js',
      'test/dockerfile.test.ts',
      '.git/config',
      'manifests/base/kustomization.yaml',
      '.sandbox/keys/private.asc',
    ]) {
      assert.equal(inBuildContext(path, dockerignore), false, path);
    }
  });

  it('carries the OCI labels', () => {
    const l = labels(runtime, { VERSION: '1.2.3', REVISION: 'abc', CREATED: 'now', NODE_IMAGE: dockerfile.globalArgs.NODE_IMAGE });

    assert.equal(l['org.opencontainers.image.title'], 'secret-steward');
    assert.equal(l['org.opencontainers.image.licenses'], pkg.license);
    assert.equal(l['org.opencontainers.image.version'], '1.2.3');
    assert.equal(l['org.opencontainers.image.revision'], 'abc');
    assert.equal(l['org.opencontainers.image.base.name'], dockerfile.globalArgs.NODE_IMAGE);
    assert.ok(l['org.opencontainers.image.description'] && l['org.opencontainers.image.created']);
  });

  describe('the production install alone runs the CLI (simulated image build)', function () {
    this.timeout(120_000);
    this.slow(30_000);
    let app: string;
    let home: string;

    before(async () => {
      app = mkdtempSync(join(tmpdir(), 'steward-image-'));
      home = mkdtempSync(join(tmpdir(), 'steward-home-'));
      cpSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
      cpSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
      // deps stage
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: app,
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
      // build stage (same compiler and config as `npm run build`, straight into the image dir)
      await run(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')], {
        cwd: REPO_ROOT,
      });
    });

    after(() => {
      rmSync(app, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    });

    const cli = async (...args: string[]): Promise<string> => {
      const { stdout } = await run(node24(), [join(app, 'dist', 'jobs', 'cli.js'), ...args], {
        cwd: '/',
        env: { PATH: process.env.PATH, HOME: home, TMPDIR: home, NODE_ENV: 'production' },
      });
      return stdout;
    };

    it('installs no package the lockfile marks dev-only (typescript, mocha, tsx, node@24 among them)', () => {
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      const devOnly = Object.entries(lock.packages)
        .filter(([path, p]) => path !== '' && p.dev === true)
        .map(([path]) => path);

      assert.ok(['typescript', 'mocha', 'tsx', 'node'].every((d) => devOnly.includes(`node_modules/${d}`)));
      assert.deepEqual(
        devOnly.filter((path) => existsSync(join(app, path))),
        [],
      );
    });

    it('secret-steward --help', async () => {
      const out = await cli('--help');

      assert.match(out, /^Usage: secret-steward <command>/);
    });

    it('secret-steward backup --help, and every other command, loads with production dependencies', async () => {
      const names = [...(await cli('--help')).matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]).filter((n) => n !== 'version');

      assert.ok(names.includes('backup') && names.length >= 4, names.join(','));
      for (const name of names) assert.match(await cli(name, '--help'), new RegExp(`^Usage: secret-steward ${name}`), name);
    });

    it('writes nothing into the application directory (read-only root filesystem)', async () => {
      const before = listFiles(app).length;

      await cli('--version');

      assert.equal(listFiles(app).length, before);
    });
  });
});
