import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandRuns, requireDependency } from '../support/dependencies.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI as a user would, in a child process on the project's Node. */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'jobs/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the CLI with stdout and stderr on a pseudo-terminal, as in an operator's shell, through
 * util-linux `script`; returns what the terminal showed.
 */
function cliOnTerminal(args: string[], env: Record<string, string> = {}) {
  const line = [process.execPath, '--import', 'tsx', 'jobs/cli.ts', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('script', ['-qec', line, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, terminal: r.stdout.replace(/\r\n/g, '\n') };
}

describe('jobs/cli', function () {
  this.timeout(120_000);

  it('lists every command and the exit codes in --help', () => {
    const r = cli(['--help']);

    assert.equal(r.code, 0, r.stderr);
    for (const name of ['rotate', 'backup', 'verify-restore', 'restore', 'prune', 'list-backups', 'keygen', 'status']) {
      assert.match(r.stdout, new RegExp(`\\n  ${name} +\\S`), name);
    }
    assert.match(r.stdout, /2 +configuration or usage error/);
  });

  it("maps only its own files' source maps when source maps are on (the image's NODE_OPTIONS)", () => {
    // Node keeps every source map it reads; the dependencies' (11 MB for @kubernetes/client-node)
    // cost the process about 9 MiB before its first Secret (docs/benchmarks.md).
    const probe =
      'data:text/javascript,import{getSourceMapsSupport}from"node:module";' +
      'process.on("exit",()=>process.stderr.write(`source maps: ${JSON.stringify(getSourceMapsSupport())}\\n`))';

    const r = spawnSync(process.execPath, ['--enable-source-maps', '--import', probe, '--import', 'tsx', 'jobs/cli.ts', '--version'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      encoding: 'utf8',
      timeout: 60_000,
    });

    assert.equal(r.status, 0, r.stderr);
    const support = JSON.parse(/source maps: (\{.*\})/.exec(r.stderr)?.[1] ?? 'null');
    assert.deepEqual({ enabled: support?.enabled, nodeModules: support?.nodeModules }, { enabled: true, nodeModules: false }, r.stderr);
  });

  it('shows help for every command', () => {
    for (const name of ['rotate', 'backup', 'verify-restore', 'restore', 'prune', 'list-backups', 'keygen', 'status']) {
      const r = cli([name, '--help']);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: secret-steward ${name}`), name);
      assert.match(r.stdout, /--log-level/, name);
    }
  });

  it('exits 2 with every problem listed for bad settings, naming flags and variables', () => {
    const r = cli(['backup', '--no-such-flag', '--log-level', 'chatty'], { SECRET_STEWARD_LOG_LEVEL: 'x' });

    assert.equal(r.code, 2);
    assert.match(r.stderr, /--no-such-flag: unknown option/);
    assert.match(r.stderr, /--log-level \/ SECRET_STEWARD_LOG_LEVEL: invalid value in --log-level/);
    assert.equal(r.stdout, '');
  });

  it('exits 2 before any request for a label selector the API server would refuse, naming the setting', () => {
    for (const name of ['backup', 'rotate', 'status', 'restore']) {
      const r = cli([name, '-l', 'app in (a b)']);

      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /-l, --selector \/ SECRET_STEWARD_SELECTOR: invalid value in --selector: expected a label selector such as app=web,tier!=cache \("a b" is not a valid label value\)/,
        name,
      );
    }
  });

  it('takes kubectl-style -o: list-backups -o json on a file store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'steward-cli-'));
    try {
      const store = ['--cluster-name', 'c1', '--store', `file://${dir}`];

      const short = cli(['list-backups', ...store, '-o', 'json']);
      const equals = cli(['list-backups', ...store, '-o=json']);
      const unknown = cli(['list-backups', ...store, '-n', 'default']);

      assert.equal(short.code, 0, short.stderr);
      assert.deepEqual(JSON.parse(short.stdout).backups, []);
      assert.equal(equals.stdout, short.stdout);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /-n: unknown option; options are spelled --name, short forms -o, -h \(see --help\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 for an unknown command and for no command', () => {
    assert.equal(cli(['frobnicate']).code, 2);
    assert.equal(cli([]).code, 2);
  });

  it('suggests the nearest command for an unknown one', () => {
    const r = cli(['backups']);

    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'secret-steward: unknown command "backups" (did you mean list-backups?). Run \'secret-steward --help\' for the list.\n',
    );
  });

  it('prints a configuration error found while running once: no JSON log line, no stack trace', () => {
    const r = cli([
      'keygen',
      '--key-name',
      'k',
      '--email',
      'k@example.invalid',
      '--out-dir',
      '/nonexistent',
      '--passphrase-file',
      '/nonexistent/pass',
    ]);

    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'secret-steward keygen: invalid configuration (1 problem):\n' +
        '  - --passphrase-file / SECRET_STEWARD_PASSPHRASE_FILE: cannot read passphrase file /nonexistent/pass: no such file\n' +
        "Run 'secret-steward keygen --help' for the options.\n",
    );
  });

  it('prints the version', () => {
    const r = cli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^secret-steward \d+\.\d+\.\d+/);
  });

  describe('log lines: text on a terminal, JSON otherwise', () => {
    let out: string;
    before(async function () {
      requireDependency(this, 'script (util-linux)', commandRuns('script', ['--version']), 'apt-get install bsdutils');
      out = await mkdtemp(join(tmpdir(), 'steward-cli-log-'));
    });
    after(async () => out && rm(out, { recursive: true, force: true }));
    /** A dry run that logs one warning (a former flag name) and writes nothing. */
    const args = (extra: string[] = []) => [
      'keygen',
      '--name',
      'k',
      '--email',
      'k@example.invalid',
      '--out-dir',
      join(out, 'keys'),
      '--dry-run',
      ...extra,
    ];
    const TEXT_WARNING = /^\d\d:\d\d:\d\d WARN {2}--name is deprecated: use --key-name setting=--key-name deprecated=--name$/m;
    const JSON_WARNING = /^\{"level":"warn",.*"msg":"--name is deprecated: use --key-name"\}$/m;

    it('writes text lines when stderr is a terminal', () => {
      const r = cliOnTerminal(args());

      assert.equal(r.code, 0, r.terminal);
      assert.match(r.terminal, TEXT_WARNING);
      assert.doesNotMatch(r.terminal, /"level"/);
    });

    it('writes JSON lines when stderr is not a terminal, on a terminal in a pod, or with --log-format json', () => {
      const piped = cli(args());
      const inPod = cliOnTerminal(args(), { KUBERNETES_SERVICE_HOST: '10.96.0.1' });
      const forced = cliOnTerminal(args(['--log-format', 'json']));

      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stderr, JSON_WARNING);
      assert.match(inPod.terminal, JSON_WARNING);
      assert.match(forced.terminal, JSON_WARNING);
    });

    it('writes text lines with --log-format text (SECRET_STEWARD_LOG_FORMAT) when stderr is not a terminal', () => {
      const r = cli(args(), { SECRET_STEWARD_LOG_FORMAT: 'text' });

      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, TEXT_WARNING);
    });
  });
});
