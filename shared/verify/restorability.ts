import { secretDataDigest } from '../backup/secret-digest.js';
import { isKubeError } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { BackupItem } from './backup-reader.js';
import { compareRestored, drillCopy, DRILL_LABEL } from './drill-objects.js';
import type { DrillNamespace } from './drill-namespace.js';
import type { CheckRecorder } from './drill-report.js';

export interface DrillRestorerOptions {
  drillId: string;
  backupId: string;
  /** Secrets in flight at once (create, read back, delete). */
  concurrency: number;
  log: Logger;
  /** Throws when a shutdown was requested (called before each new Secret). */
  checkpoint: () => void;
  /** Told about every Secret restored byte-identical. */
  onRestored: (item: BackupItem) => void;
}

/**
 * The restorability check: each Secret is created in the drill namespace under its drill name,
 * read back and compared byte for byte (and against the SHA-256 recorded in the index), then
 * deleted at once, so the namespace only ever holds the copies in flight. Every name ever sent
 * to the API server is tracked until its delete succeeded; {@link cleanup} removes whatever is
 * left, then lists the drill's label to catch creates whose outcome was unknown.
 *
 * A problem with one Secret (the API rejects the copy, it reads back different) fails the check
 * and the drill goes on. A problem that would repeat for every Secret (drill namespace missing,
 * RBAC forbids it, API server unavailable after retries) stops the check with one finding.
 */
export class DrillRestorer {
  restored = 0;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pending = new Set<string>();

  constructor(
    private readonly ns: DrillNamespace,
    private readonly check: CheckRecorder,
    private readonly o: DrillRestorerOptions,
  ) {}

  /** True when a systemic failure stopped the check. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts restoring one Secret; waits while `concurrency` Secrets are in flight. */
  async submit(item: BackupItem): Promise<void> {
    while (this.inFlight.size >= this.o.concurrency) await Promise.race(this.inFlight);
    this.o.checkpoint();
    if (this.stopped) return;
    const task: Promise<void> = this.restoreOne(item).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  /** Waits for every Secret in flight. Never throws. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Waits for the Secrets in flight, then deletes every drill object of this drill that may
   * exist. Returns the names that could not be deleted (also recorded as a finding).
   */
  async cleanup(): Promise<string[]> {
    await this.drain();
    const failed = new Set<string>();
    const remove = async (name: string) => {
      try {
        await this.ns.delete(name);
        this.pending.delete(name);
        failed.delete(name);
      } catch (e) {
        failed.add(name);
        this.o.log.error({ err: e, name, namespace: this.ns.namespace }, 'could not delete a drill object');
      }
    };
    for (const name of [...this.pending]) await remove(name);
    try {
      for (const name of await this.ns.listDrillObjects(this.o.drillId)) await remove(name);
    } catch (e) {
      this.o.log.error({ err: e, namespace: this.ns.namespace }, 'could not list drill objects to clean up');
      for (const name of this.pending) failed.add(name);
    }
    const leftovers = [...failed];
    if (leftovers.length > 0) {
      this.check.fail({
        message:
          `${leftovers.length} drill object(s) could not be deleted from namespace ${this.ns.namespace} (label ${DRILL_LABEL}=${this.o.drillId}); ` +
          `the next drill removes them: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''}`,
      });
    }
    return leftovers;
  }

  private async restoreOne(item: BackupItem): Promise<void> {
    const { secret, entry } = item;
    const who = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const where = { namespace: secret.metadata.namespace, name: secret.metadata.name };
    const body = drillCopy(secret, { drillId: this.o.drillId, drillNamespace: this.ns.namespace, backupId: this.o.backupId });
    const name = body.metadata!.name!;
    try {
      this.pending.add(name);
      try {
        await this.ns.create(body);
      } catch (e) {
        if (!isKubeError(e, (k) => k.alreadyExists)) throw e;
        // A retried create whose first attempt did happen, or someone else's object.
        const existing = await this.ns.get(name);
        if (existing?.metadata?.labels?.[DRILL_LABEL] !== this.o.drillId) {
          this.pending.delete(name); // not ours: never delete it
          throw e;
        }
      }
      const got = await this.ns.get(name);
      if (got === undefined) {
        this.check.fail({ ...where, message: `Secret ${who}: its drill copy ${name} was created but could not be read back (gone)` });
        return;
      }
      const diffs = compareRestored(secret, got);
      if (secretDataDigest(got.data) !== entry.dataSha256) diffs.push('the SHA-256 of the data read back differs from the index');
      if (diffs.length > 0) {
        this.check.fail({ ...where, message: `Secret ${who}: the copy read back from the API server differs from the backup: ${diffs.join('; ')}` });
        return;
      }
      this.restored++;
      this.o.onRestored(item);
    } catch (e) {
      this.failed(e, who, where);
    } finally {
      if (this.pending.has(name)) {
        try {
          await this.ns.delete(name);
          this.pending.delete(name);
        } catch (e) {
          this.o.log.warn({ err: e, name }, 'could not delete a drill object yet; retrying at the end');
        }
      }
    }
  }

  private failed(e: unknown, who: string, where: { namespace: string; name: string }): void {
    if (this.stopped) return;
    const text = e instanceof Error ? e.message : String(e);
    if (isKubeError(e, (k) => k.transient)) {
      this.stopped = true;
      this.check.error({ message: `the API server failed while restoring Secret ${who} into namespace ${this.ns.namespace} (${text}); the check was stopped` });
    } else if (isKubeError(e, (k) => k.forbidden)) {
      this.stopped = true;
      this.check.fail({ message: `not allowed to create, read or delete Secrets in drill namespace ${this.ns.namespace} (${text}); the drill's Role needs create, get, list and delete on Secrets there` });
    } else if (isKubeError(e, (k) => k.notFound && k.op.verb === 'create')) {
      this.stopped = true;
      this.check.fail({ message: `drill namespace ${this.ns.namespace} does not exist (${text}); create it beforehand (the drill never creates namespaces, so that its RBAC stays limited to that one namespace)` });
    } else {
      this.check.fail({ ...where, message: `Secret ${who} could not be restored: ${text}` });
    }
  }
}
