import type { SettingsOf } from '../config/options.js';
import { durationSetting, fileSetting, stringSetting, ValueError } from '../config/options.js';
import { loadTrustedSignerKeys, parseSignerKeySpec, type SigningKey, type TrustedSignerKey } from '../crypto/index.js';
import { ConfigError } from '../errors/index.js';
import { type SealTrust, windowProblem } from './backup-seal.js';

const TRUST = 'Trust (who may seal backups: docs/threat-model.md)';

const WINDOW_HELP =
  ' Append ,notBefore=TIME and/or ,notAfter=TIME (RFC 3339, e.g. 2026-03-01T00:00:00Z) to believe only signatures made inside that window: the retired key of a rollover gets notAfter (docs/backup-and-restore.md); a revocation signature imported into the key acts as its notAfter.';

/**
 * A repeatable public key setting whose values may carry a validity window,
 * `FILE[,notBefore=TIME][,notAfter=TIME]`: the syntax is checked with the other settings (every
 * bad value reported at once); the value stays the raw text, read by `loadTrustedSignerKeys`.
 */
export function signerKeySetting<const O extends Parameters<typeof fileSetting>[0]>(o: O) {
  return {
    ...fileSetting({ ...o, valueName: 'FILE[,notBefore=TIME][,notAfter=TIME]' }),
    envContinuation: /^(notBefore|notAfter)=/,
    parse: (raw: string) => {
      const spec = parseSignerKeySpec(raw);
      if ('problems' in spec) throw new ValueError(`FILE[,notBefore=TIME][,notAfter=TIME] (${spec.problems.join('; ')})`);
      return raw;
    },
  };
}

/**
 * Who may vouch for backups, shared by every command that reads the catalogue. Only public
 * keys: a reader can tell our backups from anything else in the bucket without holding a
 * private key.
 */
export const sealTrustSettings = {
  trustedSignerKey: signerKeySetting({
    description:
      "Armored OpenPGP public key trusted to sign scheduled backups: their seal and index (the public half of the backup job's --signing-key). Repeatable, e.g. the current key and the one it replaced. A backup sealed or signed by any other key is not believed." +
      WINDOW_HELP,
    repeatable: true,
    group: TRUST,
  }),
  preRestoreSignerKey: signerKeySetting({
    description:
      "Armored OpenPGP public key trusted to seal pre-restore backups (the public half of the restore job's --pre-restore-signing-key). Repeatable. Without it pre-restore backups are reported as not authenticated and never deleted." +
      WINDOW_HELP,
    repeatable: true,
    group: TRUST,
  }),
  rekeySignerKey: signerKeySetting({
    description:
      "Armored OpenPGP public key trusted to sign rekey seals (the public half of the rekey job's --rekey-signing-key). Repeatable. A rekey seal vouches only for where a re-encrypted backup is stored; what the backup is still comes from its original seal by a --trusted-signer-key or --pre-restore-signer-key (docs/rekey.md). Without it a re-encrypted backup is reported as not authenticated and never deleted." +
      WINDOW_HELP,
    repeatable: true,
    group: TRUST,
  }),
  clusterUid: stringSetting({
    description:
      "UID of the source cluster's kube-system namespace (kubectl get namespace kube-system -o jsonpath={.metadata.uid}): only backups sealed with it are this cluster's. Needed only when backups of several clusters are sealed under one --cluster-name. backup reads it from its own cluster.",
    valueName: 'UID',
    pattern: /^[A-Za-z0-9-]{1,128}$/,
    expected: 'a namespace UID such as 6f1d2c3a-5b4e-4f7a-9c1d-2e3f4a5b6c7d',
    group: TRUST,
  }),
  incompleteGrace: durationSetting({
    description:
      'How long an unsealed backup counts as possibly still being written before it is reported as a problem (status exit 1, a failed catalogue check). Unsealed backups are never deleted automatically.',
    default: 24 * 3_600_000,
    group: TRUST,
  }),
} as const;

export type SealTrustSettings = SettingsOf<typeof sealTrustSettings>;

/** `--drill-signer-key`: whose drill reports status and list-backups believe. */
export const drillEvidenceSettings = {
  drillSignerKey: fileSetting({
    description:
      "Armored OpenPGP public key trusted to sign drill reports (the public half of verify-restore's report --signing-key). Repeatable. Without it every drill result is shown as unverified and no drill counts as passed.",
    repeatable: true,
    group: TRUST,
  }),
} as const;

const TRUSTED_LABEL = '--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY';
const PRE_RESTORE_LABEL = '--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY';
const REKEY_LABEL = '--rekey-signer-key / SECRET_STEWARD_REKEY_SIGNER_KEY';

/** A key the running job signs with, and the kind of seal it signs. */
export interface OwnSigningKey {
  kind: 'scheduled' | 'pre-restore' | 'rekey';
  key: SigningKey;
}

/**
 * What {@link loadSealTrust} does with a job's own key that its kind's list does not hold (every
 * reader checks the job's seals against that list):
 * - `refuse`: a ConfigError (adopt: only other readers ever check its seals);
 * - `refuse-unless-empty`: a ConfigError when the list holds other keys; with an empty list the
 *   key is trusted for this run, as the shipped manifests configure backup and rekey (scheduled
 *   jobs, where a failing run alerts and nothing urgent waits; their readers are given the list);
 * - `warn`: trusted for this run, with a warning (restore: never blocked during an incident).
 */
export type UnlistedOwnKey = 'refuse' | 'refuse-unless-empty' | 'warn';

/** A warning about this run's own signing key: log it, and put it in the command's output if it has warnings. */
export interface OwnKeyWarning {
  /** The trust list's setting (flag / environment variable). */
  setting: string;
  fingerprint: string;
  /** One line, naming the setting and the key's fingerprint. */
  message: string;
}

/**
 * Loads the seal trust: the scheduled, pre-restore and rekey signer keys (plus, for a job that
 * signs backups or rekey seals itself, the public half of its own key for that kind, one per
 * kind: adopt has two), the cluster UID, and `now`. A job's own key that the trust lists with a
 * window excluding now is a ConfigError: every reader would call what it signs forged. An own key
 * its kind's list does not hold at all is refused or trusted with a warning as `unlistedOwn`
 * says; every problem is reported at once.
 */
export async function loadSealTrust(
  s: Pick<SealTrustSettings, 'trustedSignerKey' | 'preRestoreSignerKey' | 'clusterUid'> &
    Partial<Pick<SealTrustSettings, 'rekeySignerKey'>>,
  o: { now: Date; clusterUid?: string } & (
    | { own?: undefined }
    | { own: OwnSigningKey | readonly OwnSigningKey[]; unlistedOwn: UnlistedOwnKey }
  ),
): Promise<SealTrust & { ownKeyWarnings: OwnKeyWarning[] }> {
  const owns: readonly OwnSigningKey[] = o.own === undefined ? [] : 'kind' in o.own ? [o.own] : o.own;
  const unlisted = o.own === undefined ? 'refuse' : o.unlistedOwn;
  const [scheduled, preRestore, rekey] = await Promise.all([
    loadTrustedSignerKeys(s.trustedSignerKey, { setting: TRUSTED_LABEL }),
    loadTrustedSignerKeys(s.preRestoreSignerKey, { setting: PRE_RESTORE_LABEL }),
    loadTrustedSignerKeys(s.rekeySignerKey ?? [], { setting: REKEY_LABEL }),
  ]);
  const labels = { scheduled: TRUSTED_LABEL, 'pre-restore': PRE_RESTORE_LABEL, rekey: REKEY_LABEL } as const;
  const problems: Array<{ setting: string; message: string }> = [];
  const ownKeyWarnings: OwnKeyWarning[] = [];
  const withOwn = (keys: TrustedSignerKey[], kind: 'scheduled' | 'pre-restore' | 'rekey') => {
    const own = owns.find((k) => k.kind === kind)?.key;
    if (own === undefined) return keys;
    const listed = keys.find((k) => k.fingerprint === own.fingerprint);
    if (listed === undefined) {
      const setting = labels[kind];
      if (unlisted === 'refuse' || (unlisted === 'refuse-unless-empty' && keys.length > 0)) {
        problems.push({
          setting,
          message: `this run's own signing key ${own.fingerprint} is not listed: every reader checks ${kind} seals against this list and would call what it seals forged; add its public key here (or sign with a key listed here)`,
        });
        return keys;
      }
      if (unlisted === 'refuse-unless-empty') return [...keys, { ...own, key: own.key.toPublic() }];
      ownKeyWarnings.push({
        setting,
        fingerprint: own.fingerprint,
        message:
          keys.length === 0
            ? `${setting} lists no key: this run believes only the ${kind} seals of its own signing key ${own.fingerprint}, and a reader given the same settings believes none; list its public key here and on every reader`
            : `${setting} does not list this run's own signing key ${own.fingerprint}: every reader given this list calls the ${kind} seals it makes forged (not authenticated, never deleted, not restored); add its public key here and on every reader`,
      });
      return [...keys, { ...own, key: own.key.toPublic() }];
    }
    // What this run signs now must be believed by every reader holding the same settings.
    const outside = windowProblem(listed, 'signature', o.now, undefined, 0);
    if (outside !== undefined)
      problems.push({
        setting: labels[kind],
        message: `this run's own signing key ${own.fingerprint} is listed with a window that excludes now (${outside.replace(/^its signature is /, '')}): sign with the key that replaced it`,
      });
    return keys;
  };
  const trust = {
    signers: { scheduled: withOwn(scheduled, 'scheduled'), 'pre-restore': withOwn(preRestore, 'pre-restore') },
    rekeySigners: withOwn(rekey, 'rekey'),
    clusterUid: o.clusterUid ?? s.clusterUid,
    now: o.now,
    ownKeyWarnings,
  };
  if (problems.length > 0) throw new ConfigError(problems, 'cannot sign with a key no reader believes now');
  return trust;
}
