import { BackupLayout } from '../backup/backup-layout.js';
import { loadDecryptionKeys, loadRecipientKeys, loadSigningKey, loadTrustedSignerKeys } from '../crypto/keys.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { ConfigError, errorText } from '../errors/index.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { toolNamespace } from '../kube/job-lock.js';
import type { CommandContext } from '../runtime/command.js';
import { renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { formatStoreUrl } from '../storage/store-settings.js';
import type { CheckSettings } from './check-settings.js';
import { JOB_PERMISSIONS, type JobPermission, permissionText, usesStore } from './job-permissions.js';

/** Version of the `-o json` document. */
export const CHECK_FORMAT = 'secret-steward.io/check/v1';

export type Verdict = 'ok' | 'warning' | 'failed';

/** One check: what was checked (`permission`, `key`, `store`), on what, and the verdict. */
export interface CheckResult {
  check: 'permission' | 'key' | 'store' | 'kubernetes';
  /** The object or setting checked: `list secrets (all namespaces)`, `--recipient-key /keys/r.asc`. */
  subject: string;
  verdict: Verdict;
  message: string;
}

export interface CheckReport {
  format: typeof CHECK_FORMAT;
  for: CheckSettings['for'];
  ok: boolean;
  checks: CheckResult[];
}

/**
 * `secret-steward check --for JOB`: validates an installation without writing anything. The
 * settings are checked by parsing (exit 2); then every key file given (kind, capability,
 * expiry), the store (one listing request under the cluster's prefix), and each Kubernetes
 * permission the job needs (one SelfSubjectAccessReview each, JOB_PERMISSIONS). Exit 0 when
 * nothing failed (warnings allowed), 1 when a check failed.
 */
export async function runCheckJob(s: CheckSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const checks: CheckResult[] = [
    ...(await checkKeys(s, ctx.clock.now())),
    ...(await checkStore(s, ctx)),
    ...(await checkPermissions(s, ctx)),
  ];
  const report: CheckReport = { format: CHECK_FORMAT, for: s.for, ok: !checks.some((c) => c.verdict === 'failed'), checks };
  if (isDocumentOutput(s.output)) ctx.io.stdout.write(renderDocument(report, s.output));
  else ctx.io.stdout.write(renderCheck(report));
  return report.ok ? ExitCode.Success : ExitCode.Failed;
}

export function renderCheck(r: CheckReport): string {
  const rows = r.checks.map((c) => [c.verdict.toUpperCase(), c.check, c.subject, c.message]);
  const failed = r.checks.filter((c) => c.verdict === 'failed').length;
  const warned = r.checks.filter((c) => c.verdict === 'warning').length;
  return `${renderTable(['VERDICT', 'CHECK', 'SUBJECT', 'DETAIL'], rows)}\n${r.for}: ${r.checks.length} checks, ${failed} failed, ${warned} warnings\n`;
}

/** Each key problem a loader reports (it lists every one, each naming its setting) becomes a failed check. */
function keyProblems(e: unknown, subject: string): CheckResult[] {
  if (!(e instanceof ConfigError)) throw e;
  return e.problems.map((p) => ({ check: 'key', subject: p.setting ?? subject, verdict: 'failed', message: p.message }));
}

async function checkKeys(s: CheckSettings, now: Date): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const ok = (subject: string, message: string): CheckResult => ({ check: 'key', subject, verdict: 'ok', message });
  const warnWithinMs = s.keyExpiryWarning;
  if (s.recipientKey.length > 0) {
    try {
      const { keys, warnings } = await loadRecipientKeys(s.recipientKey, { now, warnWithinMs });
      for (const k of keys) out.push(ok(`--recipient-key ${k.file}`, `public key ${k.fingerprint} can encrypt${until(k.expiresAt)}`));
      for (const w of warnings) out.push({ check: 'key', subject: `--recipient-key ${w.file}`, verdict: 'warning', message: w.message });
    } catch (e) {
      out.push(...keyProblems(e, '--recipient-key'));
    }
  }
  if (s.signingKey !== undefined) {
    try {
      const { key, warnings } = await loadSigningKey(s.signingKey, s.signingKeyPassphraseFile, { now, warnWithinMs });
      out.push(ok(`--signing-key ${key.file}`, `private key ${key.fingerprint} unlocks and can sign${until(key.expiresAt)}`));
      for (const w of warnings) out.push({ check: 'key', subject: `--signing-key ${w.file}`, verdict: 'warning', message: w.message });
    } catch (e) {
      out.push(...keyProblems(e, '--signing-key'));
    }
  }
  if (s.decryptionKey.length > 0) {
    try {
      for (const k of await loadDecryptionKeys(s.decryptionKey, s.decryptionKeyPassphraseFile))
        out.push(ok(`--decryption-key ${k.file}`, `private key ${k.fingerprint} unlocks and can decrypt`));
    } catch (e) {
      out.push(...keyProblems(e, '--decryption-key'));
    }
  }
  if (s.trustedSignerKey.length > 0) {
    try {
      for (const k of await loadTrustedSignerKeys(s.trustedSignerKey))
        out.push(ok(`--trusted-signer-key ${k.file}`, `public key ${k.fingerprint}: its signatures are believed${windowText(k)}`));
    } catch (e) {
      out.push(...keyProblems(e, '--trusted-signer-key'));
    }
  }
  return out;
}

/** ` when made from … until …`: a trusted signer's window, its revocation counting as its end. */
function windowText(k: { notBefore?: Date; notAfter?: Date; revokedAt?: Date }): string {
  const end = [k.notAfter, k.revokedAt].filter((d): d is Date => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
  if (k.notBefore === undefined && end === undefined) return '';
  return ` when made${k.notBefore ? ` from ${k.notBefore.toISOString()}` : ''}${end ? ` until ${end.toISOString()}` : ''}`;
}

function until(expiresAt: Date | undefined): string {
  return expiresAt ? ` until ${expiresAt.toISOString()}` : '';
}

/** One listing request under `<cluster-name>/backups/`: reachable, bucket exists, credentials may list. Nothing is written. */
async function checkStore(s: CheckSettings, ctx: CommandContext): Promise<CheckResult[]> {
  if (!usesStore(s.for)) return [];
  if (s.store === undefined || s.clusterName === undefined) {
    return [
      {
        check: 'store',
        subject: '--store',
        verdict: 'warning',
        message: `not checked: give --store and --cluster-name to check ${s.for}'s store`,
      },
    ];
  }
  const store = createObjectStore({ ...s, store: s.store }, { clock: ctx.clock, log: ctx.log });
  const prefix = new BackupLayout(s.clusterName).backupsPrefix();
  const subject = `${formatStoreUrl(s.store)}/${prefix}`;
  try {
    for await (const _ of store.list(prefix)) break;
    return [{ check: 'store', subject, verdict: 'ok', message: 'reachable; the credentials may list it (writes are not tried)' }];
  } catch (e) {
    return [{ check: 'store', subject, verdict: 'failed', message: `cannot list the store (--store): ${errorText(e)}` }];
  }
}

/** Resources that belong to no namespace, among those the jobs use. */
const CLUSTER_SCOPED = new Set(['namespaces']);

/** Where a permission applies, in the review and in the verdict. */
function namespaceOf(p: JobPermission, s: CheckSettings): string | undefined {
  if (p.scope === 'tool') return toolNamespace(s);
  if (p.scope === 'drill') return s.drillNamespace;
  return undefined;
}

/** One SelfSubjectAccessReview per permission the job needs, as the identity of --kubeconfig. */
async function checkPermissions(s: CheckSettings, ctx: CommandContext): Promise<CheckResult[]> {
  const needed = JOB_PERMISSIONS[s.for];
  if (needed.length === 0) return [];
  const { authorization, caller } = createKubeClients(loadKubeConfig(s, ctx.io.env), {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const out: CheckResult[] = [];
  for (const p of needed) {
    const namespace = namespaceOf(p, s);
    const where = namespace !== undefined ? ` (namespace ${namespace})` : CLUSTER_SCOPED.has(p.resource) ? '' : ' (all namespaces)';
    const subject = `${permissionText(p)}${where}`;
    try {
      // A review changes nothing: safe to retry like a read.
      const review = await caller.call(
        { verb: 'create', kind: 'SelfSubjectAccessReview', detail: `for ${permissionText(p)}` },
        () =>
          authorization.createSelfSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, namespace, name: p.name } },
            },
          }),
        { idempotent: true },
      );
      const allowed = review.status?.allowed === true;
      out.push({
        check: 'permission',
        subject,
        verdict: allowed ? 'ok' : 'failed',
        message: allowed
          ? p.why
          : `not allowed: ${s.for} ${p.why}; grant it as manifests/base does${review.status?.reason ? ` (${review.status.reason})` : ''}`,
      });
    } catch (e) {
      // The API server is unreachable or refuses reviews: every permission is unknown, say it once.
      out.push({ check: 'kubernetes', subject: '--kubeconfig', verdict: 'failed', message: `cannot ask the API server: ${errorText(e)}` });
      break;
    }
  }
  return out;
}
