import { createLogger, MemorySink, Redactor } from '../../../../shared/log/index.js';
import type { BackendStepContext } from '../../../../shared/rotate/backend.js';
import { systemClock } from '../../../../shared/runtime/clock.js';

/**
 * A backend step's context for Secret shop/db of user `app`: the current password
 * `current-password-1`, the pending one `password`; its log lines are kept in `sink`, through
 * a redactor of its own that the step registers its values with.
 */
export function backendStepContext<C>(config: C, password: string): { ctx: BackendStepContext<C>; redactor: Redactor; sink: MemorySink } {
  const redactor = new Redactor();
  const sink = new MemorySink();
  const values = (p: string) =>
    new Map([
      ['username', Buffer.from('app')],
      ['password', Buffer.from(p)],
    ]);
  const ctx: BackendStepContext<C> = {
    namespace: 'shop',
    secretName: 'db',
    rotationId: 'r1',
    config,
    current: values('current-password-1'),
    pending: values(password),
    reverting: false,
    readSecret: async () => undefined,
    log: createLogger({ sink, redactor }),
    clock: systemClock,
    signal: new AbortController().signal,
    register: (v) => redactor.register(v),
  };
  return { ctx, redactor, sink };
}
