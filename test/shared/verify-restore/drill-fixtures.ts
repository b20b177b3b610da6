/**
 * Fixtures for the verify-restore and restore tests: real TLS material (the common seed's tls
 * Secrets hold placeholder PEM, which the validity check rightly rejects), seeding, and the
 * argument lists of the backup, drill and restore commands against a job harness.
 */
import { webcrypto } from 'node:crypto';
import { type Harness, type TestKeyFiles, writeTestKeyPair } from '../../support/job-harness.js';
import { seedCommonSecrets } from '../../support/seed-secrets.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

export interface TlsMaterial {
  cert: string;
  key: string;
}

/** A self-signed ECDSA P-256 certificate and its PKCS#8 key, PEM. */
export async function makeTls(commonName = 'drill.test', validDays = 30, notBefore = new Date(Date.now() - 60_000)): Promise<TlsMaterial> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as {
    privateKey: webcrypto.CryptoKey;
    publicKey: webcrypto.CryptoKey;
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + validDays * 86_400_000),
    keys,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem').replace(/\r\n/g, '\n').replace(/\n?$/, '\n'), key };
}

/**
 * Seeds the common Secrets (every common type, binary data, an immutable one, one just under
 * 1 MiB, a service-account token that is never backed up) and gives the tls Secrets real PEM.
 * Returns `namespace/name` -> data (base64, as stored).
 */
export async function seedDrillSecrets(h: Harness, namespaces = ['payments', 'web']): Promise<Map<string, Record<string, string>>> {
  const expected = seedCommonSecrets(h, namespaces);
  for (const ns of namespaces) {
    const tls = await makeTls(`${ns}.test`);
    const data = { 'tls.crt': b64(tls.cert), 'tls.key': b64(tls.key) };
    const current = h.emulator.get('v1', 'Secret', ns, 'tls') as unknown as { metadata: Record<string, unknown> };
    h.emulator.update({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tls', namespace: ns, resourceVersion: current.metadata.resourceVersion as string },
      type: 'kubernetes.io/tls',
      data,
    } as never);
    expected.set(`${ns}/tls`, data);
  }
  return expected;
}

/** Creates `n` small Opaque Secrets in namespace `ns` (created when missing). */
export function seedMany(h: Harness, n: number, ns = 'bulk'): void {
  if (!h.emulator.get('v1', 'Namespace', undefined, ns))
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never);
  for (let i = 0; i < n; i++) {
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `s-${String(i).padStart(5, '0')}`, namespace: ns },
      data: { v: b64(`value-${i}-of-${ns}`) },
    } as never);
  }
}

/** The drill namespace the tests use (pre-created, like the manifests do). */
export const DRILL_NS = 'secret-steward-drill';

export function createDrillNamespace(h: Harness, name = DRILL_NS): void {
  if (!h.emulator.get('v1', 'Namespace', undefined, name))
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as never);
}

/** The backup job's keys: encrypt to the recipient, sign and seal with the backup signer. */
export function backupKeyArgs(h: Harness): string[] {
  return ['--recipient-key', h.recipient.publicKey, ...h.signingArgs()];
}

/** A restore that overwrites: the pre-restore backup is encrypted to the recipient and sealed with the restore job's own key. */
export function preRestoreKeyArgs(h: Harness): string[] {
  return [
    '--recipient-key',
    h.recipient.publicKey,
    '--pre-restore-signing-key',
    h.preRestoreSigner.privateKey,
    '--pre-restore-signing-key-passphrase-file',
    h.preRestoreSigner.passphraseFile,
  ];
}

export function readKeyArgs(h: Harness): string[] {
  return ['--decryption-key', h.recipient.privateKey, '--decryption-key-passphrase-file', h.recipient.passphraseFile, ...trustArgs(h)];
}

/** The seal signers a reader of the harness's backups trusts: the backup job's and the restore job's. */
export function trustArgs(h: Harness): string[] {
  return ['--trusted-signer-key', h.signer.publicKey, '--pre-restore-signer-key', h.preRestoreSigner.publicKey];
}

/** A key rollover: the new recipient key and rekey's own signing key. */
export interface RolloverKeys {
  next: TestKeyFiles;
  rekey: TestKeyFiles;
}

/** Writes the keys of a rollover into the harness's folder; `passphrase`: the new key's, when a command is given it and the old. */
export async function writeRolloverKeys(h: Harness, opts: { passphrase?: string } = {}): Promise<RolloverKeys> {
  return {
    next: await writeTestKeyPair(h.dir, 'next-recipient', opts),
    rekey: await writeTestKeyPair(h.dir, 'rekey'),
  };
}

/** rekey's keys: the harness's (old) decryption key and trusted signers, the new recipient key and rekey's signing key. */
export function rekeyKeyArgs(h: Harness, k: RolloverKeys): string[] {
  return [
    ...readKeyArgs(h),
    '--recipient-key',
    k.next.publicKey,
    '--rekey-signing-key',
    k.rekey.privateKey,
    '--rekey-signing-key-passphrase-file',
    k.rekey.passphraseFile,
  ];
}

/** What a reader holding only the NEW private key passes: it trusts rekey's seals. */
export function newKeyReadArgs(h: Harness, k: RolloverKeys): string[] {
  return [
    '--decryption-key',
    k.next.privateKey,
    '--decryption-key-passphrase-file',
    k.next.passphraseFile,
    ...trustArgs(h),
    '--rekey-signer-key',
    k.rekey.publicKey,
  ];
}

/** verify-restore signs its report with the drill signing key. */
export function drillSigningArgs(h: Harness): string[] {
  return ['--report-signing-key', h.drillSigner.privateKey, '--report-signing-key-passphrase-file', h.drillSigner.passphraseFile];
}

export function drillArgs(h: Harness, prefix = 'bk'): string[] {
  return [...h.baseArgs(prefix), ...readKeyArgs(h), '--drill-namespace', DRILL_NS];
}

/** Drill objects left in the drill namespace (by label). */
export function drillObjects(h: Harness, name = DRILL_NS): string[] {
  return h.emulator
    .list('v1', 'Secret', name, { labelSelector: 'secret-steward.io/drill' })
    .map((s) => (s.metadata as { name: string }).name);
}
