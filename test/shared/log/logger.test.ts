import assert from 'node:assert/strict';
import { stringSetting } from '../../../shared/config/options.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import { redactor } from '../../../shared/log/index.js';
import { logSettings, resolveLogFormat } from '../../../shared/log/log-settings.js';
import { createLogger, MemorySink } from '../../../shared/log/logger.js';
import { Redactor } from '../../../shared/log/redactor.js';
import { defineCommand, runCommand } from '../../../shared/runtime/command.js';

const CANARY = 'canary-9f8e7d6c5b4a-Value';

describe('shared/log/logger', () => {
  it('writes JSON lines with level, time and message', () => {
    const sink = new MemorySink();
    const log = createLogger({ sink, redactor: new Redactor(), base: { job: 'backup' } });

    log.info({ namespace: 'payments', items: 3 }, 'backed up');

    const [rec] = sink.records();
    assert.equal(rec.level, 'info');
    assert.equal(rec.job, 'backup');
    assert.equal(rec.namespace, 'payments');
    assert.equal(rec.items, 3);
    assert.equal(rec.msg, 'backed up');
    assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT/);
  });

  for (const format of ['json', 'text'] as const) {
    it(`never writes a registered canary, on any path including errors (${format} lines)`, () => {
      const r = new Redactor();
      const sink = new MemorySink();
      const log = createLogger({ sink, redactor: r, level: 'debug', format });
      r.register(CANARY);
      const b64 = Buffer.from(CANARY).toString('base64');

      log.info(`message ${CANARY}`);
      log.debug({ note: `field ${CANARY}`, nested: { deeper: [CANARY, { b64 }] } }, 'structured');
      log.warn({ err: new Error(`boom ${CANARY}`, { cause: new Error(`cause ${CANARY}`) }) }, 'with error');
      log.error(
        { err: new KubeError({ verb: 'update', kind: 'Secret', namespace: 'ns', name: CANARY }, { status: 409, reason: 'Conflict' }) },
        'kube',
      );
      log.child({ binding: CANARY }).info('child');
      log.info({ weird: `"${CANARY}"\n` }, 'escaped');
      log.info({ password: 'short' }, 'by field');

      const all = sink.lines.join('');
      assert.equal(sink.lines.length, 7);
      assert.equal(
        sink.lines.every((l) => l.startsWith('{')),
        format === 'json',
        all,
      );
      assert.ok(!all.includes(CANARY), all);
      assert.ok(!all.includes(b64), all);
      assert.ok(!all.includes('short'), 'field-name redaction');
      assert.ok(all.includes('[REDACTED]'));
    });
  }

  it('writes text lines for a terminal: time, level, message, then the fields', () => {
    const sink = new MemorySink();
    const log = createLogger({ sink, redactor: new Redactor(), base: { job: 'backup', run: 'abcd1234' }, format: 'text' });

    log.warn({ namespace: 'payments', items: 3, note: 'two words', ids: ['a', 'b'] }, 'backed up');
    log.error({ err: new Error('stream closed') }, 'upload failed');

    assert.match(sink.lines[0], /^\d\d:\d\d:\d\d WARN {2}backed up namespace=payments items=3 note="two words" ids=\["a","b"\]\n$/);
    assert.match(sink.lines[1], /^\d\d:\d\d:\d\d ERROR upload failed err="stream closed"\n {4}Error: stream closed\n {8}at /);
  });

  it('keeps a canary out of everything a failing command prints', async () => {
    redactor.register(CANARY);
    const sink = new MemorySink();
    const out: string[] = [];
    const err: string[] = [];
    const cmd = defineCommand({
      help: { name: 'canary', summary: 's', description: 'd' },
      settings: { ...logSettings, target: stringSetting({ description: 't' }) },
      run: async (s) => {
        if (s.target === 'config') throw ConfigError.single('--target', `cannot read ${CANARY}`);
        throw new Error(`unexpected ${CANARY}`);
      },
    });
    const io = {
      env: {},
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      logSink: sink,
      handleSignals: false,
    };

    const codes = [await runCommand(cmd, ['--target=config'], io), await runCommand(cmd, ['--target=other'], io)];

    assert.deepEqual(codes, [2, 1]);
    const everything = [...sink.lines, ...out, ...err].join('\n');
    assert.ok(everything.includes('cannot read [REDACTED]'), everything);
    assert.ok(!everything.includes(CANARY), everything);
  });
});

describe('shared/log/log-settings', () => {
  const cases = [
    { setting: 'auto', tty: true, env: {}, expected: 'text' },
    { setting: 'auto', tty: false, env: {}, expected: 'json' },
    { setting: 'auto', tty: true, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, expected: 'json' },
    { setting: 'json', tty: true, env: {}, expected: 'json' },
    { setting: 'text', tty: false, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, expected: 'text' },
  ] as const;
  for (const c of cases) {
    it(`--log-format ${c.setting}, stderr ${c.tty ? 'a terminal' : 'not a terminal'}${Object.keys(c.env).length > 0 ? ', in a pod' : ''}: ${c.expected}`, () => {
      assert.equal(resolveLogFormat(c.setting, c.tty, c.env), c.expected);
    });
  }
});
