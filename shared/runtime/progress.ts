import type { Logger } from '../log/index.js';
import type { StatusLine } from '../log/status-line.js';
import type { Clock } from './clock.js';

export interface ProgressOptions {
  log: Logger;
  clock: Clock;
  /** A progress log line at least this often while a phase advances (`--progress-interval`). @default 10_000 */
  intervalMs?: number;
  /** And one each time the percent done passes a multiple of this (when the total is known). @default 10 */
  percentStep?: number;
  /** Redrawn in place while a phase advances: only when stderr is a terminal. */
  line?: StatusLine;
  /** Least time between two redraws of the line. @default 200 */
  redrawMs?: number;
}

/** What a total is: counted before the work (the index, a list's `remainingItemCount`), or an upper bound. */
export interface PhaseTotal {
  total: number;
  /** The total is an upper bound (Secrets of excluded types counted too): percent stays below 100 until the phase ends. */
  estimated?: boolean;
}

/**
 * Says how far a long run is, for the operator watching it (during an incident a 50,000-Secret
 * restore must not be minutes of silence): each phase logs `progress` lines with done, total,
 * percent, rate and ETA, every `intervalMs` and every `percentStep` percent (never one per
 * item), and one when it ends; on a terminal a single line is redrawn in place. A phase keeps
 * counters only, so memory does not grow with the number of items.
 */
export class Progress {
  constructor(private readonly o: ProgressOptions) {}

  /** Starts phase `name` (`verify`, `write`...) of `total` items, when known. */
  phase(name: string, total?: number | PhaseTotal): ProgressPhase {
    return new ProgressPhase(this.o, name, typeof total === 'number' ? { total } : total);
  }
}

/** One phase of a run: {@link add} as items are done, {@link end} once. */
export class ProgressPhase {
  private done = 0;
  private readonly started: number;
  private lastLog: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastStep = 0;
  private ended = false;

  constructor(
    private readonly o: ProgressOptions,
    readonly name: string,
    private total: PhaseTotal | undefined,
  ) {
    this.started = o.clock.now().getTime();
    this.lastLog = this.started;
    o.log.info(this.fields(this.started), `${name}: started${total ? ` (${total.estimated ? 'at most ' : ''}${total.total} items)` : ''}`);
  }

  /** Sets or replaces the total (learnt after the phase started). */
  setTotal(total: PhaseTotal | undefined): void {
    this.total = total;
  }

  /** Back to nothing done (the work starts over, e.g. a list restarted after 410 Gone). */
  restart(): void {
    this.done = 0;
    this.lastStep = 0;
  }

  /** `n` more items done. Logs and redraws only when due. */
  add(n = 1): void {
    this.done += n;
    const now = this.o.clock.now().getTime();
    const percent = this.percent();
    const step = percent === undefined ? 0 : Math.floor(percent / (this.o.percentStep ?? 10));
    if (now - this.lastLog >= (this.o.intervalMs ?? 10_000) || step > this.lastStep) {
      this.lastLog = now;
      this.lastStep = step;
      this.o.log.info(this.fields(now), `${this.name}: ${this.text(now)}`);
    }
    if (this.o.line !== undefined && now - this.lastDraw >= (this.o.redrawMs ?? 200)) {
      this.lastDraw = now;
      this.o.line.show(`${this.name}: ${this.text(now)}`);
    }
  }

  /** Ends the phase: one last line with the final count (also after a failure: how far it got). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Counted to the end, an upper bound gives way to the real count.
    if (this.total?.estimated) this.total = { total: this.done };
    const now = this.o.clock.now().getTime();
    this.o.line?.clear();
    this.o.log.info({ ...this.fields(now), ended: true }, `${this.name}: ${this.done} done in ${seconds(now - this.started)}`);
  }

  /** Percent done, when the total is known; an estimate stays below 100. */
  private percent(): number | undefined {
    if (this.total === undefined) return undefined;
    if (this.total.total === 0) return 100;
    const p = Math.floor((Math.min(this.done, this.total.total) * 100) / this.total.total);
    return this.total.estimated && !this.ended ? Math.min(p, 99) : p;
  }

  private fields(now: number): Record<string, unknown> {
    const elapsedMs = now - this.started;
    const perSecond = elapsedMs > 0 ? Math.round((this.done * 1000 * 10) / elapsedMs) / 10 : undefined;
    const percent = this.percent();
    const left = this.total === undefined ? undefined : Math.max(0, this.total.total - this.done);
    const etaSeconds = left !== undefined && perSecond ? Math.ceil(left / perSecond) : undefined;
    return {
      progress: this.name,
      done: this.done,
      ...(this.total !== undefined ? { total: this.total.total } : {}),
      ...(this.total?.estimated ? { totalEstimated: true } : {}),
      ...(percent !== undefined ? { percent } : {}),
      elapsedMs,
      ...(perSecond !== undefined ? { perSecond } : {}),
      ...(etaSeconds !== undefined && !this.ended ? { etaSeconds } : {}),
    };
  }

  /** `1200 of 50000 (2%), 310/s, about 2m40s left`; without a total, `1200, 310/s`. */
  private text(now: number): string {
    const f = this.fields(now);
    const of = this.total === undefined ? '' : ` of ${this.total.estimated ? 'about ' : ''}${this.total.total} (${f.percent}%)`;
    const rate = f.perSecond !== undefined ? `, ${f.perSecond}/s` : '';
    const eta = typeof f.etaSeconds === 'number' ? `, about ${seconds(f.etaSeconds * 1000)} left` : '';
    return `${this.done}${of}${rate}${eta}`;
  }
}

/** `2m40s`, `12s`, `0s`. */
function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${m}m` : `${m}m${s % 60}s`;
}
