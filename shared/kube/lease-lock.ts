import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { InterruptedError, LockHeldError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { retryOnConflict } from './conflict-retry.js';
import type { KubeCaller } from './kube-call.js';
import { KubeError } from './kube-error.js';

export interface LeaseLockOptions {
  namespace: string;
  name: string;
  /** Who holds it: the pod name (HOSTNAME in a pod) or the host name. */
  identity: string;
  /** Seconds a holder may go without renewing before others may take over. @default 60 */
  leaseDurationSeconds?: number;
  /** How often the holder renews. @default a third of the duration */
  renewIntervalMs?: number;
}

/** Annotation on the Lease naming unfinished work of its holder (see {@link LeaseLock.record}). */
export const IN_FLIGHT_ANNOTATION = 'secret-steward.io/in-flight';

/** Annotation on the Lease naming what its holder is reading, so that others do not delete it meanwhile. */
export const READING_ANNOTATION = 'secret-steward.io/reading';

/**
 * A mutual-exclusion lock on a coordination.k8s.io/v1 Lease, so that a scheduled run and a
 * Job created by hand never act at once. Acquiring fails with {@link LockHeldError} (exit 3)
 * while another holder's lease is fresh. A lease not renewed for its full duration is taken
 * over (the holder crashed), bumping `leaseTransitions`. Every write carries the
 * resourceVersion it read, so two contenders cannot both win. While held the lease is renewed
 * in the background; if renewal finds the lease taken, `lost` is aborted so that work stops at
 * the next safe point. A lease is no fence: writes to other objects still use their own
 * resourceVersion preconditions.
 */
export class LeaseLock {
  private lease: V1Lease | undefined;
  private inheritedNote: string | undefined;
  /** Writes of the held Lease, one at a time: two at once would carry the same resourceVersion and one would look like a lost lock. */
  private writes: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly lostController = new AbortController();
  private readonly duration: number;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly caller: KubeCaller,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: LeaseLockOptions,
  ) {
    this.duration = o.leaseDurationSeconds ?? 60;
  }

  /** Aborted when the lease was lost to another holder while this run held it. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  get held(): boolean {
    return this.lease !== undefined;
  }

  /**
   * What an earlier holder recorded with {@link record} and never cleared, read when this run
   * acquired the lock: that run died (SIGKILL, OOM) in the middle of it, and this run, now the
   * only one acting, may clean up after it.
   */
  get inherited(): string | undefined {
    return this.inheritedNote;
  }

  /**
   * Records on the Lease what the holder is in the middle of (`undefined` clears it), so that
   * the next holder can clean up if this run dies before clearing it. The note outlives
   * {@link release}. Another `annotation` holds a different kind of note (what the holder reads:
   * {@link READING_ANNOTATION}). Throws when the write fails, and (InterruptedError) when the
   * lock turns out lost.
   */
  async record(note: string | undefined, annotation: string = IN_FLIGHT_ANNOTATION): Promise<void> {
    return this.serially(async () => {
      const written = await this.write((lease) => {
        const annotations = { ...(lease.metadata?.annotations ?? {}) };
        if (note === undefined) delete annotations[annotation];
        else annotations[annotation] = note;
        return { ...lease, metadata: { ...lease.metadata, annotations }, spec: { ...lease.spec, renewTime: microTime(this.clock.now()) } };
      });
      if (written === 'lost') throw new InterruptedError('the lock was lost to another run');
    });
  }

  /** Takes the lock or throws {@link LockHeldError}. Starts background renewal. */
  async acquire(): Promise<void> {
    const { namespace, name, identity } = this.o;
    const op = { kind: 'Lease', namespace, name };
    const now = this.clock.now();
    let current: V1Lease | undefined;
    try {
      current = await this.caller.call({ ...op, verb: 'get' }, () => this.api.readNamespacedLease({ name, namespace }));
    } catch (e) {
      if (!(e instanceof KubeError && e.notFound)) throw e;
    }
    if (current === undefined) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'secret-steward' } },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.lease = await this.caller.call({ ...op, verb: 'create' }, () => this.api.createNamespacedLease({ namespace, body }));
      } catch (e) {
        if (e instanceof KubeError && e.alreadyExists)
          throw new LockHeldError(`${namespace}/${name}`, 'another run (created it first)', undefined);
        throw e;
      }
    } else {
      this.inheritedNote = current.metadata?.annotations?.[IN_FLIGHT_ANNOTATION];
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
      const expires = renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000;
      if (holder !== '' && holder !== identity && expires > now.getTime()) {
        throw new LockHeldError(`${namespace}/${name}`, holder, spec.renewTime ? String(toIso(spec.renewTime)) : undefined);
      }
      if (holder !== '' && holder !== identity) {
        this.log.warn({ lease: `${namespace}/${name}`, previousHolder: holder }, 'taking over an expired lease');
      }
      const body: V1Lease = {
        ...current,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
        },
      };
      try {
        this.lease = await this.caller.call({ ...op, verb: 'update' }, () => this.api.replaceNamespacedLease({ name, namespace, body }));
      } catch (e) {
        if (e instanceof KubeError && e.conflict) throw new LockHeldError(`${namespace}/${name}`, 'another run (won the race)', undefined);
        throw e;
      }
    }
    this.log.info({ lease: `${namespace}/${name}`, identity }, 'lock acquired');
    const every = this.o.renewIntervalMs ?? Math.max(1000, (this.duration * 1000) / 3);
    this.timer = setInterval(() => void this.renew(), every);
    this.timer.unref();
  }

  /** Renews the lease; on losing it, aborts {@link lost}. Transient failures are retried next tick. */
  async renew(): Promise<void> {
    return this.serially(async () => {
      if (this.lease === undefined) return;
      try {
        await this.write((lease) => ({ ...lease, spec: { ...lease.spec, renewTime: microTime(this.clock.now()) } }));
      } catch (e) {
        // Unrenewed for most of its duration, the Lease may already be taken by a run that
        // believes us dead (and cleans up after us): stop at the next safe point rather than
        // go on acting without the lock.
        const renewTime = this.lease?.spec?.renewTime;
        const renewed = renewTime ? new Date(renewTime).getTime() : Number.NaN;
        if (this.lease !== undefined && !(this.clock.now().getTime() - renewed < (this.duration * 1000 * 2) / 3)) {
          this.log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: e }, 'lease not renewed for two thirds of its duration');
          this.markLost();
          return;
        }
        this.log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: e }, 'lease renewal failed; will retry');
      }
    });
  }

  /** Releases the lock (empty holder), so the next run need not wait for expiry. Never throws. */
  async release(): Promise<void> {
    this.stopRenewing();
    return this.serially(async () => {
      if (this.lease === undefined) return;
      const lease = `${this.o.namespace}/${this.o.name}`;
      try {
        const released = await this.write(
          (l) => ({ ...l, spec: { ...l.spec, holderIdentity: undefined, acquireTime: undefined, renewTime: undefined } }),
          { releasing: true },
        );
        if (released === 'written') this.log.info({ lease }, 'lock released');
        else this.log.warn({ lease }, 'the lock was taken over by another run before it was released');
      } catch (e) {
        this.log.warn({ lease, err: e }, 'could not release the lock; it expires on its own');
      }
      this.lease = undefined;
    });
  }

  /**
   * Writes the held Lease, changed by `change`. A 409, or a failure after which the write may
   * have happened (5xx, connection lost), is not taken for a lost lock at once: the answer to
   * an earlier write of ours may have been lost, leaving us a stale resourceVersion. The Lease
   * is read again; while we still hold it the change is applied to it afresh. Returns 'lost'
   * (and aborts {@link lost}) when another holder has it; a release counts an empty holder as done.
   */
  private async write(change: (lease: V1Lease) => V1Lease, o: { releasing?: boolean } = {}): Promise<'written' | 'lost'> {
    const { namespace, name, identity } = this.o;
    const op = { kind: 'Lease', namespace, name };
    let lease = this.lease!;
    return retryOnConflict(
      async (attempt) => {
        if (attempt > 1) {
          let current: V1Lease;
          try {
            current = await this.caller.call({ ...op, verb: 'get' }, () => this.api.readNamespacedLease({ name, namespace }));
          } catch (e) {
            if (e instanceof KubeError && e.notFound) return this.lostUnlessReleasing(o);
            throw e;
          }
          const holder = current.spec?.holderIdentity ?? '';
          if (holder !== identity) {
            if (o.releasing && holder === '') return 'written';
            return this.lostUnlessReleasing(o);
          }
          this.lease = current;
          lease = current;
        }
        try {
          const body = change(lease);
          this.lease = await this.caller.call({ ...op, verb: 'update' }, () => this.api.replaceNamespacedLease({ name, namespace, body }));
          return 'written';
        } catch (e) {
          if (e instanceof KubeError && e.notFound) return this.lostUnlessReleasing(o);
          throw e;
        }
      },
      // A write whose answer was lost may have happened: read again, as after a conflict.
      { clock: this.clock, alsoConflict: (k) => k.outcomeUnknown },
    );
  }

  private lostUnlessReleasing(o: { releasing?: boolean }): 'lost' {
    if (!o.releasing) this.markLost();
    return 'lost';
  }

  /** Runs `write` after every write started before it (settled either way). */
  private serially<T>(write: () => Promise<T>): Promise<T> {
    const next = this.writes.then(write, write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private markLost(): void {
    this.stopRenewing();
    this.lease = undefined;
    this.log.error({ lease: `${this.o.namespace}/${this.o.name}` }, 'lock lost to another holder; stopping at the next safe point');
    this.lostController.abort(new Error('lock lost'));
  }

  private stopRenewing(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Lease times are MicroTime: the API server wants six fractional digits, which V1MicroTime writes. */
function microTime(d: Date): V1MicroTime {
  return new V1MicroTime(d.getTime());
}

function toIso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : String(v);
}

/** What another job's Lease says while it is held: its holder and its notes. */
export interface HeldLease {
  holder: string;
  /** Notes the holder recorded with {@link LeaseLock.record}, by annotation. */
  notes: Record<string, string>;
}

/**
 * Reads another job's Lease (`namespace/name`) and returns its holder and notes while it is
 * held and not expired at `now`; undefined when it is absent, released or expired (a note left
 * by a holder that died is no longer a claim). Read-only: never takes the lock.
 */
export async function readHeldLease(
  api: CoordinationV1Api,
  caller: KubeCaller,
  o: { namespace: string; name: string; now: Date },
): Promise<HeldLease | undefined> {
  let lease: V1Lease;
  try {
    lease = await caller.call({ verb: 'get', kind: 'Lease', namespace: o.namespace, name: o.name }, () =>
      api.readNamespacedLease({ name: o.name, namespace: o.namespace }),
    );
  } catch (e) {
    if (e instanceof KubeError && e.notFound) return undefined;
    throw e;
  }
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  const renewed = spec.renewTime ? new Date(spec.renewTime as unknown as string).getTime() : 0;
  if (holder === '' || renewed + (spec.leaseDurationSeconds ?? 60) * 1000 <= o.now.getTime()) return undefined;
  const annotations = lease.metadata?.annotations ?? {};
  const notes = Object.fromEntries(
    [IN_FLIGHT_ANNOTATION, READING_ANNOTATION].flatMap((k) => (annotations[k] === undefined ? [] : [[k, annotations[k]]])),
  );
  return { holder, notes };
}
