import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../manifests/render.js';

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  devEngines: { runtime: { name: string; version: string; onFail: string } };
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

/** The major the CLI refuses to run below (jobs/cli.ts). */
function cliMajor(): number {
  const m = /^const REQUIRED_NODE_MAJOR = (\d+);$/m.exec(read('jobs/cli.ts'));
  assert.ok(m, 'jobs/cli.ts declares REQUIRED_NODE_MAJOR');
  return Number(m[1]);
}

describe('tooling/node-version', () => {
  it('.nvmrc, .node-version, engines, devEngines and the node devDependency name the major the CLI requires', () => {
    const major = cliMajor();

    assert.deepEqual(
      {
        nvmrc: read('.nvmrc').trim(),
        nodeVersion: read('.node-version').trim(),
        engines: pkg.engines.node,
        devEngines: [pkg.devEngines.runtime.name, pkg.devEngines.runtime.version],
        devDependency: pkg.devDependencies.node.split('.')[0],
      },
      {
        nvmrc: String(major),
        nodeVersion: String(major),
        engines: `>=${major}`,
        devEngines: ['node', `>=${major}`],
        devDependency: String(major),
      },
    );
  });

  it('devEngines only warns, so that npm ci still runs on an older system Node (npm fails with EBADDEVENGINES otherwise)', () => {
    assert.equal(pkg.devEngines.runtime.onFail, 'warn');
  });

  it('the CLI refuses an older Node with exit 2, naming the major', function () {
    // The machine's own node (CI's and this one's are older than the project's), not npm's.
    const older = spawnSync('node', ['--version'], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } });
    const olderMajor = Number(/^v(\d+)/.exec(older.stdout ?? '')?.[1]);
    if (!(olderMajor > 0 && olderMajor < cliMajor())) this.skip();

    const r = spawnSync('node', ['--import', 'tsx', 'jobs/cli.ts', '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    });

    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`needs Node.js ${cliMajor()} or newer`));
  });

  it('every dependency is imported somewhere in jobs/ or shared/', () => {
    const grep = (name: string) =>
      spawnSync('grep', ['-rlE', `from '${name}(/[^']*)?'|import\\('${name}`, 'jobs', 'shared'], { cwd: REPO_ROOT, encoding: 'utf8' })
        .stdout;

    const unused = Object.keys(pkg.dependencies).filter((name) => grep(name) === '');

    assert.deepEqual(unused, []);
  });
});
