/**
 * The small fixed world most scenarios start from: a few Secrets of every common type in two
 * namespaces, one holding a canary value, two of 500 KiB so that a backup of them has more
 * than one segment, and a service-account token that is never backed up. Every value is the
 * same in every case of a matrix run (the TLS pair is made once), so that a backup made once
 * matches the Secrets of every case.
 */
import { createHash } from 'node:crypto';
import type { KubeEmulator } from '../../emulator/index.js';
import { makeTls, type TlsMaterial } from '../../shared/verify-restore/drill-fixtures.js';
import type { SecretView } from '../invariants.js';

export const CANARY = 'CANARY-5f1e9a7c3b2d4e6f-faults';
export const SHOP_NAMESPACES = ['shop', 'web'] as const;

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64');

/** Deterministic pseudo-random bytes (SHA-256 in counter mode over `label`). */
export function bytesFor(label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, n = 0; at < length; n++) {
    const block = createHash('sha256').update(`${label}:${n}`).digest();
    at += block.copy(out, at);
  }
  return out;
}

let tls: Promise<TlsMaterial> | undefined;

/** The Secrets of the shop, as created. */
export async function shopSecrets(): Promise<SecretView[]> {
  tls ??= makeTls('shop.test', 365);
  const pem = await tls;
  const secret = (namespace: string, name: string, data: Record<string, string | Buffer>, extra: Partial<SecretView> = {}): SecretView => ({
    ...extra,
    metadata: { name, namespace, ...(extra.metadata ?? {}) },
    type: extra.type ?? 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  return [
    secret('shop', 'db', { username: 'app', password: 'db-password-Q7f3Zk9wLp2' }, { metadata: { name: 'db', labels: { app: 'db' } } }),
    secret('shop', 'canary', { token: CANARY }),
    secret('shop', 'tls', { 'tls.crt': pem.cert, 'tls.key': pem.key }, { type: 'kubernetes.io/tls' }),
    secret(
      'shop',
      'registry',
      { '.dockerconfigjson': JSON.stringify({ auths: { 'registry.example': { auth: b64('robot:registry-token-8d2f6a1c') } } }) },
      { type: 'kubernetes.io/dockerconfigjson' },
    ),
    secret('shop', 'blob-1', { blob: bytesFor('blob-1', 500 * 1024) }),
    secret('shop', 'blob-2', { blob: bytesFor('blob-2', 500 * 1024) }),
    secret('web', 'api-key', { key: 'api-key-Zx81mQ0pVb7Tn4' }, { metadata: { name: 'api-key', labels: { tier: 'web' } } }),
    secret('web', 'frozen', { value: 'frozen-value-4c1d9e2b7a' }, { immutable: true }),
  ];
}

/** Creates the namespaces, the shop's Secrets and a service-account token (never backed up); returns the Secrets. */
export async function seedShop(emulator: KubeEmulator, extra: readonly SecretView[] = []): Promise<SecretView[]> {
  const secrets = [...(await shopSecrets()), ...extra];
  for (const ns of new Set(secrets.map((s) => s.metadata.namespace!))) {
    if (!emulator.get('v1', 'Namespace', undefined, ns)) emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const s of secrets) emulator.create({ apiVersion: 'v1', kind: 'Secret', ...s } as never);
  emulator.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'sa-token', namespace: 'shop', annotations: { 'kubernetes.io/service-account.name': 'default' } },
    type: 'kubernetes.io/service-account-token',
    data: { token: b64('sa-token-value-never-backed-up') },
  } as never);
  return secrets;
}

/** The Secrets of some namespaces as they are now (service-account tokens left out). */
export function secretsIn(emulator: KubeEmulator, namespaces: readonly string[]): SecretView[] {
  return namespaces
    .flatMap((ns) => emulator.list('v1', 'Secret', ns) as unknown as SecretView[])
    .filter((s) => s.type !== 'kubernetes.io/service-account-token');
}

/** Every value stored in those Secrets (the canary scan looks for all of them). */
export function valuesIn(secrets: readonly SecretView[]): Buffer[] {
  return secrets.flatMap((s) => Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64')));
}
