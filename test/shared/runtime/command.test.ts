import assert from 'node:assert/strict';
import { stringSetting } from '../../../shared/config/options.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { MemorySink } from '../../../shared/log/index.js';
import { logSettings } from '../../../shared/log/log-settings.js';
import { defineCommand, runCommand } from '../../../shared/runtime/command.js';
import { StorageError } from '../../../shared/storage/index.js';

/** Runs a command that throws `error` from its run (when --fail is given). */
async function run(error: unknown, argv: string[]) {
  const sink = new MemorySink();
  const out: string[] = [];
  const err: string[] = [];
  const cmd = defineCommand({
    help: { name: 'probe', summary: 's', description: 'd' },
    settings: { ...logSettings, fail: stringSetting({ description: 'f' }) },
    run: async () => {
      throw error;
    },
  });
  const code = await runCommand(cmd, argv, {
    env: {},
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    logSink: sink,
    handleSignals: false,
  });
  return { code, stdout: out.join(''), stderr: err.join(''), logs: sink.lines };
}

describe('shared/runtime/command', () => {
  it('prints a bad flag once on stderr, with the way to the options (exit 2, no log line)', async () => {
    const r = await run(new Error('not reached'), ['--fial', 'x']);

    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "secret-steward probe: invalid configuration (1 problem):\n  - --fial: unknown option (did you mean --fail?); see --help\nRun 'secret-steward probe --help' for the options.\n",
    );
    assert.deepEqual(r.logs, []);
  });

  it('prints a configuration error found while running the same way: once, no log line, no stack', async () => {
    const r = await run(ConfigError.single('--fail / SECRET_STEWARD_FAIL', 'cannot read /keys/x.asc: no such file'), ['--fail', 'x']);

    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "secret-steward probe: invalid configuration (1 problem):\n  - --fail / SECRET_STEWARD_FAIL: cannot read /keys/x.asc: no such file\nRun 'secret-steward probe --help' for the options.\n",
    );
    assert.deepEqual(r.logs, []);
    assert.equal(r.stdout, '');
  });

  it('treats any error that means exit 2 as a configuration error (a bucket that does not exist)', async () => {
    const missing = new StorageError({
      kind: 'not-found',
      operation: 'list',
      location: 's3://no-such-bucket/',
      detail: 'NoSuchBucket (the bucket does not exist); check the bucket named by --store',
      code: 'NoSuchBucket',
    });

    const r = await run(missing, []);

    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'secret-steward probe: failed to list s3://no-such-bucket/: NoSuchBucket (the bucket does not exist); check the bucket named by --store\n' +
        "Run 'secret-steward probe --help' for the options.\n",
    );
    assert.deepEqual(r.logs, []);
  });

  it('logs any other failure as one JSON line with the exit code (stderr stays for configuration errors)', async () => {
    const r = await run(new Error('boom'), []);

    assert.equal(r.code, 1);
    assert.equal(r.stderr, '');
    assert.equal(r.logs.length, 1);
    assert.match(r.logs[0], /"exitCode":1.*"msg":"unexpected failure"/);
  });
});
