import { InterruptedError } from '../errors/index.js';
import type { Logger } from '../log/index.js';

/**
 * Turns SIGTERM/SIGINT (Kubernetes stops a Job's pod with SIGTERM, then SIGKILL after the
 * grace period) into a cooperative stop: `signal` aborts, and long-running work calls
 * {@link Shutdown.checkpoint} at safe points (between Secrets, between segments), which throws
 * {@link InterruptedError} (exit 143) so that `finally` blocks can release the lock and clean up.
 * A second signal exits at once. Other abort sources (a lost Lease) can be linked in.
 */
export class Shutdown {
  private readonly controller = new AbortController();
  private reason = '';
  private installed: Array<[NodeJS.Signals, () => void]> = [];

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get requested(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops the run at the next safe point. */
  request(reason: string): void {
    if (this.requested) return;
    this.reason = reason;
    this.controller.abort(new InterruptedError(reason));
  }

  /** Throws {@link InterruptedError} if a stop was requested. Call between units of work. */
  checkpoint(): void {
    if (this.requested) throw new InterruptedError(this.reason);
  }

  /** Also stop when `other` aborts (e.g. the Lease was lost). */
  link(other: AbortSignal, reason: string): void {
    if (other.aborted) this.request(reason);
    else other.addEventListener('abort', () => this.request(reason), { once: true });
  }

  /** Installs process signal handlers; returns a function removing them. */
  installSignalHandlers(log: Logger, exit: (code: number) => void = (c) => process.exit(c)): () => void {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const handler = () => {
        if (this.requested) {
          log.error({ signal: sig }, 'second signal: exiting now');
          exit(143);
          return;
        }
        log.warn({ signal: sig }, 'termination requested; stopping at the next safe point');
        this.request(`received ${sig}`);
      };
      process.on(sig, handler);
      this.installed.push([sig, handler]);
    }
    return () => {
      for (const [sig, h] of this.installed) process.off(sig, h);
      this.installed = [];
    };
  }
}
