import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../jobs/commands.js';

const completionCommand = COMMANDS.find((c) => c.help.name === 'completion')!;

import { flagName, type SettingsSpec } from '../../shared/config/options.js';
import { runCommand } from '../../shared/runtime/command.js';
import { commandRuns, requireDependency } from '../support/dependencies.js';

async function completion(shell: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCommand(completionCommand, [shell], {
    env: {},
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    handleSignals: false,
  });
  return { code, stdout, stderr };
}

/** Shell words quoted for a shell array. */
const words = (line: string[]) => line.map((w) => `'${w}'`).join(' ');

describe('jobs/completion', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'steward-completion-'));
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys', 'backup.public.asc'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * What the completion function offers for each command line, whose last word is being typed;
   * one shell process for all of them.
   */
  type CompleteAll = (lines: string[][]) => string[][];

  /** Shell commands that set COMP_WORDS for each line, call the function, print COMPREPLY and a separator. */
  const calls = (lines: string[][], setUp: (line: string[]) => string = () => '') =>
    lines
      .map(
        (line) =>
          `${setUp(line)}COMP_WORDS=(${words(line)}); COMP_CWORD=${line.length - 1}; _secret_steward; printf '%s\n' "\${COMPREPLY[@]}" --end--`,
      )
      .join('; ');
  const split = (stdout: string) =>
    stdout
      .split('--end--\n')
      .slice(0, -1)
      .map((block) => block.split('\n').filter((w) => w !== ''));

  /** Each command's every long flag, and its short forms, as the settings tables give them. */
  const flagCases = COMMANDS.flatMap((c) =>
    Object.entries(c.settings as SettingsSpec).flatMap(([key, s]) => [
      { command: c.help.name, typed: `--${flagName(key)}` },
      ...(s.short === undefined ? [] : [{ command: c.help.name, typed: `-${s.short}` }]),
    ]),
  );

  /** The cases both shells must complete alike. */
  function behaves(completeAll: () => CompleteAll) {
    const complete = (line: string[]) => completeAll()([line])[0];

    it('completes command names, including help, version and completion', () => {
      assert.deepEqual(complete(['secret-steward', 're']), ['restore', 'render-report', 'rekey']);
      assert.deepEqual(complete(['secret-steward', 'res']), ['restore']);
      assert.deepEqual(complete(['secret-steward', 'co']), ['completion']);
      assert.deepEqual(complete(['secret-steward', 'v']), ['verify-restore', 'version']);
    });

    it("completes every command's every flag and short form (from the settings tables)", () => {
      const offered = completeAll()(flagCases.map((f) => ['secret-steward', f.command, f.typed]));

      const missing = flagCases.filter((f, i) => !offered[i].includes(f.typed));

      assert.equal(offered.length, flagCases.length);
      assert.deepEqual(missing, []);
    });

    it('completes enum values after their flag, long or short, and --no- forms of booleans', () => {
      assert.deepEqual(complete(['secret-steward', 'restore', '--mode', '']), ['create-missing', 'overwrite']);
      assert.deepEqual(complete(['secret-steward', 'list-backups', '-o', '']), ['text', 'wide', 'json', 'yaml']);
      assert.deepEqual(complete(['secret-steward', 'backup', '--log-format', 't']), ['text']);
      assert.deepEqual(complete(['secret-steward', 'backup', '--no-dry']), ['--no-dry-run']);
      assert.deepEqual(complete(['secret-steward', 'completion', '']), ['--help', '-h', 'bash', 'zsh']);
    });

    it('completes file names after a FILE setting, and nothing after another value', () => {
      assert.deepEqual(complete(['secret-steward', 'backup', '--recipient-key', join(dir, 'keys', 'b')]), [
        join(dir, 'keys', 'backup.public.asc'),
      ]);
      assert.deepEqual(complete(['secret-steward', 'backup', '--store', '--']), []);
    });
  }

  describe('bash', () => {
    let script: string;
    before(async function () {
      requireDependency(this, 'bash', commandRuns('bash', ['--version']), 'apt-get install bash');
      const r = await completion('bash');
      assert.equal(r.code, 0, r.stderr);
      script = join(dir, 'secret-steward.bash');
      writeFileSync(script, r.stdout);
    });

    const completeAll: CompleteAll = (lines) => {
      const r = spawnSync('bash', ['--norc', '-c', `source '${script}'; ${calls(lines)}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return split(r.stdout);
    };

    it('registers itself with complete -F for secret-steward', () => {
      const r = spawnSync('bash', ['--norc', '-c', `source '${script}'; complete -p secret-steward`], { encoding: 'utf8' });

      assert.equal(r.stdout.trim(), 'complete -F _secret_steward secret-steward');
    });

    behaves(() => completeAll);
  });

  describe('zsh', () => {
    let script: string;
    before(async function () {
      requireDependency(this, 'zsh', commandRuns('zsh', ['--version']), 'apt-get install zsh');
      const r = await completion('zsh');
      assert.equal(r.code, 0, r.stderr);
      script = join(dir, '_secret-steward.zsh');
      writeFileSync(script, r.stdout);
    });

    /**
     * zsh calls a bash completion function through bashcompinit's _bash_complete, under
     * `emulate sh` (arrays from 0, as in bash) and with PREFIX set to the word being typed. Its
     * compgen does not filter by the word (-f globs PREFIX*): compadd does, afterwards. Called the
     * same way here, with zsh's own compgen, and filtered by the word as compadd filters.
     */
    const completeAll: CompleteAll = (lines) => {
      const r = spawnSync(
        'zsh',
        ['-f', '-c', `source '${script}'; emulate sh; ${calls(lines, (line) => `PREFIX=${words([line[line.length - 1]])}; `)}`],
        { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } },
      );
      assert.equal(r.status, 0, r.stderr);
      return split(r.stdout).map((offered, i) => offered.filter((w) => w.startsWith(lines[i][lines[i].length - 1])));
    };

    it('registers itself with compdef, through bashcompinit, for secret-steward', () => {
      const r = spawnSync('zsh', ['-f', '-c', `source '${script}'; print -r -- "\${_comps[secret-steward]}"`], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dir },
      });

      assert.equal(r.stdout.trim(), '_bash_complete -F _secret_steward');
    });

    behaves(() => completeAll);
  });

  it('refuses another shell with exit 2', async () => {
    const r = await completion('fish');

    assert.equal(r.code, 2);
    assert.match(r.stderr, /one of bash, zsh/);
  });
});
