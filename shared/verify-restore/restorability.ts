import { secretDataDigest } from '../backup/secret-digest.js';
import { errorText } from '../errors/index.js';
import { isKubeError } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { BackupItem } from './backup-reader.js';
import type { DrillNamespace } from './drill-namespace.js';
import { compareRestored, type DrillObjects, drillCopy, drillDataBytes, drillObjectName, drillSelector } from './drill-objects.js';
import type { CheckRecorder } from './drill-report.js';

/** How much one batch of drill copies may hold. */
export interface DrillBatchLimits {
  /** Secrets per batch. */
  secrets: number;
  /** Bytes of Secret data per batch (base64 values and keys, as sent); a batch always takes at least one Secret. */
  bytes: number;
}

export const DEFAULT_BATCH_LIMITS: DrillBatchLimits = { secrets: 250, bytes: 8 * 1024 * 1024 };

export interface DrillRestorerOptions {
  drillId: string;
  backupId: string;
  /** Creates in flight at once. */
  concurrency: number;
  batch: DrillBatchLimits;
  log: Logger;
  /** Throws when a shutdown was requested (called before each new Secret). */
  checkpoint: () => void;
  /** Told about every Secret restored byte-identical. */
  onRestored: (item: BackupItem) => void;
  /** Told about every Secret that could not be restored, or read back different or not at all (a finding was recorded). */
  onFailed: (item: BackupItem) => void;
  /** A warning for the drill report (the run passes, but something should be fixed). */
  warn: (message: string) => void;
}

/** API requests the check made, by what they were for (retries not counted). */
export interface RestorerCalls {
  create: number;
  /** List requests: read-backs, and the listings that find what is left to delete. */
  list: number;
  deletecollection: number;
  /** Single deletes: only when deletecollection is refused. */
  delete: number;
}

interface Copy {
  item: BackupItem;
  name: string;
  /**
   * `created`: the API server answered the create; `exists`: it answered AlreadyExists (this
   * drill's copy if the read-back lists it, i.e. a retried create whose first attempt had
   * happened; else someone else's object, never touched); `failed`: already recorded.
   */
  state: 'creating' | 'created' | 'exists' | 'failed';
  alreadyExists?: Error;
}

class Batch {
  readonly copies = new Map<string, Copy>();
  /** Its creates still in flight. */
  readonly creates = new Set<Promise<void>>();
  bytes = 0;
  constructor(readonly n: number) {}
}

/**
 * The restorability check, in batches bounded by {@link DrillBatchLimits}. For each batch:
 *
 * 1. every Secret is created in the drill namespace under its drill name, labelled with the
 *    drill id and the batch number (`concurrency` creates in flight);
 * 2. the batch is read back with ONE paginated list by those labels, and every copy listed is
 *    compared byte for byte with the backup and with the SHA-256 recorded in the index; a copy
 *    that was created but is not listed is a failure (the API server did not keep it);
 * 3. the batch is deleted with ONE `deletecollection` by the same labels, and a list confirms
 *    that nothing of it is left.
 *
 * Steps 2 and 3 of a batch run while the next batch is created (the API server works on one
 * while the drill decrypts and creates the other), and a batch is only handed over to them once
 * the batch before it is gone: the drill namespace never holds more than two batches, and the
 * drill never more than two batches' data. A Secret costs one create plus about
 * 3/`batch.secrets` requests (it was a create, a get and a delete).
 *
 * When deletecollection is refused (403: a Role from before it was needed) the copies are
 * deleted one by one and a warning says the Role should gain it. {@link cleanup} (in a
 * `finally`, also on failure and shutdown) removes whatever of this drill is left.
 *
 * A problem with one Secret (the API rejects the copy, it reads back different or not at all)
 * fails the check and the drill goes on. A problem that would repeat for every Secret (drill
 * namespace missing, RBAC forbids it, API server unavailable after retries, a batch that cannot
 * be removed) stops the check with one finding.
 */
export class DrillRestorer {
  restored = 0;
  /** Batches read back. */
  batches = 0;
  readonly calls: RestorerCalls = { create: 0, list: 0, deletecollection: 0, delete: 0 };
  private stopped = false;
  private batch = new Batch(1);
  /** The batch being read back and deleted (steps 2 and 3), and that work; it never rejects. */
  private completing: { batch: Batch; done: Promise<void> } | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private deleteCollectionRefused = false;

  constructor(
    private readonly ns: DrillNamespace,
    private readonly check: CheckRecorder,
    private readonly o: DrillRestorerOptions,
  ) {}

  /** True when a systemic failure stopped the check. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Removes the objects of earlier drills (any drill label) that were killed before their
   * cleanup. Returns how many there were. Throws KubeError, or an Error when some could not be
   * removed.
   */
  async removeEarlierDrills(): Promise<number> {
    const names = await this.names({ all: true });
    if (names.length === 0) return 0;
    const left = await this.remove({ all: true }, { knownToExist: true });
    if (left.length > 0) throw new Error(`${left.length} of ${names.length} could not be deleted: ${sample(left)}`);
    return names.length;
  }

  /**
   * Adds one Secret to the batch being filled and starts creating its copy; when the batch is
   * full, hands it over to be read back and deleted (waiting until the batch before it is gone).
   * Waits while `concurrency` creates are in flight. `item` must have passed integrity: its data
   * matches the SHA-256 its index entry records.
   */
  async submit(item: BackupItem): Promise<void> {
    this.o.checkpoint();
    if (this.stopped) return;
    const { secret } = item;
    const name = drillObjectName(this.o.drillId, secret.metadata.namespace, secret.metadata.name);
    const bytes = drillDataBytes(secret);
    const b = this.batch;
    if (b.copies.size > 0 && (b.copies.size >= this.o.batch.secrets || b.bytes + bytes > this.o.batch.bytes || b.copies.has(name))) {
      await this.handOver();
      this.o.checkpoint();
      if (this.stopped) return;
    }
    // The same name in the batch being deleted (a Secret twice in one backup) must wait for it.
    if (this.completing?.batch.copies.has(name)) await this.completing.done;
    while (this.inFlight.size >= this.o.concurrency) await Promise.race(this.inFlight);
    this.o.checkpoint();
    if (this.stopped) return;
    const batch = this.batch;
    const copy: Copy = { item, name, state: 'creating' };
    batch.copies.set(name, copy);
    batch.bytes += bytes;
    const task: Promise<void> = this.create(copy, batch.n).finally(() => {
      this.inFlight.delete(task);
      batch.creates.delete(task);
    });
    this.inFlight.add(task);
    batch.creates.add(task);
  }

  /** Reads back and deletes the last, partly filled batch, and waits for it. Never throws. */
  async finish(): Promise<void> {
    await this.handOver();
    await this.completing?.done;
  }

  /**
   * Waits for the batch being read back and deleted and for the creates in flight, then deletes
   * every drill object of this drill that may exist (an unfinished batch after a failure or
   * shutdown, a batch whose removal failed, creates whose outcome was unknown). Returns the
   * names that could not be deleted (also recorded as a finding).
   */
  async cleanup(): Promise<string[]> {
    await this.completing?.done;
    await settle(this.inFlight);
    this.completing = undefined;
    this.batch = new Batch(this.batch.n + 1); // drop the unfinished batch's data
    if (this.calls.create === 0) return []; // nothing of this drill was ever sent
    const which = { drillId: this.o.drillId };
    let left: string[] = [];
    let unknown: string | undefined;
    try {
      left = await this.remove(which);
    } catch (e) {
      this.o.log.error({ err: e, namespace: this.ns.namespace }, 'could not delete drill objects');
      try {
        left = await this.names(which);
      } catch (e2) {
        unknown = e2 instanceof Error ? e2.message : String(e2);
      }
    }
    if (left.length > 0 || unknown !== undefined) {
      const label = drillSelector(which);
      this.check.fail({
        message:
          unknown !== undefined
            ? `drill objects may remain in namespace ${this.ns.namespace} (label ${label}): they could not be listed (${unknown}); the next drill removes them`
            : `${left.length} drill object(s) could not be deleted from namespace ${this.ns.namespace} (label ${label}); the next drill removes them: ${sample(left)}`,
      });
    }
    return left;
  }

  private async create(copy: Copy, batch: number): Promise<void> {
    const { secret } = copy.item;
    const who = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const body = drillCopy(secret, { drillId: this.o.drillId, drillNamespace: this.ns.namespace, backupId: this.o.backupId, batch });
    try {
      this.calls.create++;
      await this.ns.create(body);
      copy.state = 'created';
    } catch (e) {
      if (isKubeError(e, (k) => k.alreadyExists)) {
        // A retried create whose first attempt did happen, or someone else's object: the
        // read-back tells which (only this drill's copy carries this drill's batch label).
        copy.state = 'exists';
        copy.alreadyExists = e;
        return;
      }
      copy.state = 'failed';
      if (this.createFailed(e, who, { namespace: secret.metadata.namespace, name: secret.metadata.name })) this.o.onFailed(copy.item);
    }
  }

  /**
   * Starts a new batch and hands the full one over to {@link complete}, once the batch handed
   * over before it is gone: so at most two batches exist, one being deleted, one being filled.
   */
  private async handOver(): Promise<void> {
    const full = this.batch;
    this.batch = new Batch(full.n + 1);
    await this.completing?.done;
    this.completing = { batch: full, done: this.complete(full) };
  }

  /** Read back, compare, delete: a batch, once its creates are done. Never rejects. */
  private async complete(b: Batch): Promise<void> {
    await settle(b.creates);
    if (b.copies.size === 0) return;
    try {
      await this.readBack(b);
      await this.removeBatch(b);
    } catch (e) {
      this.stop(e, `restoring batch ${b.n}`); // (readBack and removeBatch record what they expect)
    }
  }

  private async readBack(b: Batch): Promise<void> {
    const expected = [...b.copies.values()].filter((c) => c.state === 'created' || c.state === 'exists');
    if (expected.length === 0) return;
    const found = new Map<string, string[]>();
    try {
      for await (const page of this.ns.list({ drillId: this.o.drillId, batch: b.n }, { pageSize: this.o.batch.secrets })) {
        this.calls.list++;
        if (page.restarted) found.clear();
        for (const got of page.items) {
          const copy = b.copies.get(got.metadata?.name ?? '');
          if (copy === undefined) continue;
          const diffs = compareRestored(copy.item.secret, got);
          // The backup's data matches the index hash (submit's precondition), so data read back
          // as the very same base64 text does too: the hash is computed when the text differs.
          if (!sameText(copy.item.secret.data, got.data) && secretDataDigest(got.data) !== copy.item.entry.dataSha256) {
            diffs.push('the SHA-256 of the data read back differs from the index');
          }
          found.set(copy.name, diffs);
        }
      }
    } catch (e) {
      this.stop(e, `reading back batch ${b.n} (${expected.length} Secrets)`);
      return;
    }
    this.batches++;
    for (const copy of expected) {
      const { secret } = copy.item;
      const who = `${secret.metadata.namespace}/${secret.metadata.name}`;
      const where = { namespace: secret.metadata.namespace, name: secret.metadata.name };
      const diffs = found.get(copy.name);
      if (diffs === undefined || diffs.length > 0) this.o.onFailed(copy.item);
      if (diffs === undefined) {
        this.check.fail({
          ...where,
          message:
            copy.state === 'exists'
              ? `Secret ${who} could not be restored: ${copy.alreadyExists?.message} (an object named ${copy.name} that is not this drill's copy is in the drill namespace; it was left alone)`
              : `Secret ${who}: its drill copy ${copy.name} was created but not found on read-back (the API server accepted the create, but does not list the object)`,
        });
      } else if (diffs.length > 0) {
        this.check.fail({
          ...where,
          message: `Secret ${who}: the copy read back from the API server differs from the backup: ${diffs.join('; ')}`,
        });
      } else {
        this.restored++;
        this.o.onRestored(copy.item);
      }
    }
  }

  /** Deletes a batch and confirms it is gone. */
  private async removeBatch(b: Batch): Promise<void> {
    let left: string[];
    try {
      left = await this.remove({ drillId: this.o.drillId, batch: b.n }, { knownToExist: true });
    } catch (e) {
      this.stop(e, `deleting batch ${b.n}`);
      return;
    }
    if (left.length > 0) {
      this.stopped = true;
      this.check.fail({
        message: `${left.length} drill object(s) of batch ${b.n} were still in namespace ${this.ns.namespace} after they were deleted (${sample(left)}); the check was stopped so that the namespace never fills up`,
      });
    }
  }

  /**
   * Deletes the drill objects `which` selects: ONE deletecollection, or one delete each once it
   * was refused. Returns the names a listing still shows afterwards.
   */
  private async remove(which: DrillObjects, o: { knownToExist?: boolean } = {}): Promise<string[]> {
    if (!o.knownToExist && (await this.names(which)).length === 0) return [];
    if (!this.deleteCollectionRefused) {
      try {
        this.calls.deletecollection++;
        await this.ns.deleteCollection(which);
      } catch (e) {
        if (!isKubeError(e, (k) => k.forbidden)) throw e;
        this.deleteCollectionRefused = true;
        const message =
          `deletecollection of Secrets in drill namespace ${this.ns.namespace} was refused (${e.message}); drill objects are deleted one by one instead, ` +
          `one more API request per Secret: add the verb deletecollection on secrets to the drill's Role in that namespace`;
        this.o.warn(message);
        this.o.log.warn({ namespace: this.ns.namespace }, 'deletecollection refused; deleting drill objects one by one');
      }
    }
    if (this.deleteCollectionRefused) {
      for (const name of await this.names(which)) {
        this.calls.delete++;
        await this.ns.delete(name);
      }
    }
    return this.names(which);
  }

  private async names(which: DrillObjects): Promise<string[]> {
    this.calls.list++;
    return this.ns.names(which);
  }

  /**
   * A create failed: one Secret's problem (returns true), or (transient, forbidden, no
   * namespace) the end of the check.
   */
  private createFailed(e: unknown, who: string, where: { namespace: string; name: string }): boolean {
    if (this.stopped) return false;
    const text = errorText(e);
    if (isKubeError(e, (k) => k.transient)) {
      this.stopped = true;
      this.check.error({
        message: `the API server failed while restoring Secret ${who} into namespace ${this.ns.namespace} (${text}); the check was stopped`,
      });
    } else if (isKubeError(e, (k) => k.notFound)) {
      this.stopped = true;
      this.check.fail({
        message: `drill namespace ${this.ns.namespace} does not exist (${text}); create it beforehand (the drill never creates namespaces, so that its RBAC stays limited to that one namespace)`,
      });
    } else if (isKubeError(e, (k) => k.namespaceTerminating)) {
      // Not RBAC: NamespaceLifecycle refuses every create while the namespace is being deleted.
      // Waiting would not help either: once it is gone the drill cannot create it.
      this.stopped = true;
      this.check.fail({
        message: `drill namespace ${this.ns.namespace} is being deleted (Terminating) (${text}); recreate it once the deletion is done (the drill never creates namespaces, so that its RBAC stays limited to that one namespace)`,
      });
    } else if (isKubeError(e, (k) => k.forbidden)) {
      this.stop(e, `restoring Secret ${who}`);
    } else {
      this.check.fail({ ...where, message: `Secret ${who} could not be restored: ${text}` });
      return true;
    }
    return false;
  }

  /** Stops the check after a failure that would repeat for every batch. */
  private stop(e: unknown, doing: string): void {
    if (this.stopped) return;
    this.stopped = true;
    const text = errorText(e);
    if (isKubeError(e, (k) => k.transient)) {
      this.check.error({
        message: `the API server failed while ${doing} in namespace ${this.ns.namespace} (${text}); the check was stopped`,
      });
    } else if (isKubeError(e, (k) => k.forbidden)) {
      this.check.fail({
        message: `not allowed to create, list or delete Secrets in drill namespace ${this.ns.namespace} (${text}); the drill's Role needs create, list and deletecollection on Secrets there`,
      });
    } else {
      this.check.fail({ message: `${doing} in namespace ${this.ns.namespace} failed (${text}); the check was stopped` });
    }
  }
}

function sample(names: readonly string[]): string {
  return `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;
}

/** Waits until every promise in `set` (which they leave when done) has settled. */
async function settle(set: Set<Promise<void>>): Promise<void> {
  while (set.size > 0) await Promise.allSettled([...set]);
}

/** True when both have the same keys with the same base64 text (then they hash alike). */
function sameText(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const x = a ?? {};
  const y = b ?? {};
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) if (!Object.hasOwn(y, k) || x[k] !== y[k]) return false;
  return true;
}
