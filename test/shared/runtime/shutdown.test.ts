import assert from 'node:assert/strict';
import { InterruptedError } from '../../../shared/errors/index.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';

describe('shared/runtime/shutdown', () => {
  it('lets work run until a stop is requested, then stops it at the next checkpoint', () => {
    const s = new Shutdown();
    s.checkpoint();

    s.request('received SIGTERM');

    assert.equal(s.requested, true);
    assert.equal(s.signal.aborted, true);
    assert.throws(
      () => s.checkpoint(),
      (e) => e instanceof InterruptedError && e.exitCode === 143 && /SIGTERM/.test(e.message),
    );
  });

  it('follows a linked abort signal such as a lost lease', () => {
    const s = new Shutdown();
    const lease = new AbortController();
    s.link(lease.signal, 'the lock was lost');

    lease.abort();

    assert.throws(() => s.checkpoint(), /the lock was lost/);
  });

  it('turns the first SIGTERM into a request and a second one into an immediate exit', () => {
    const s = new Shutdown();
    const sink = new MemorySink();
    const exits: number[] = [];
    const remove = s.installSignalHandlers(createLogger({ sink }), (code) => exits.push(code));
    try {
      process.emit('SIGTERM', 'SIGTERM');
      assert.equal(s.requested, true);
      assert.deepEqual(exits, []);

      process.emit('SIGTERM', 'SIGTERM');
      assert.deepEqual(exits, [143]);
    } finally {
      remove();
    }
    assert.match(sink.lines[0], /stopping at the next safe point/);
  });
});
