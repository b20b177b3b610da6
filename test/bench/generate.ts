/**
 * Benchmark data: N Secrets with the size mix of a real cluster, spread over many namespaces.
 * Sizes and kinds come from a seeded PRNG (the same N gives the same mix on every run); the
 * values themselves are fresh random bytes or text built around them.
 *
 * The mix (fractions of N):
 * - 93%: small application Secrets, 1-6 keys of 16 B to 2 KiB: passwords and tokens (text),
 *   config files with credentials (compressible text), keystores (binary), plus docker
 *   registry configs, basic-auth and TLS pairs;
 * - 6.9%: Helm release storage (`helm.sh/release.v1`, label owner=helm): one gzip'd (so
 *   incompressible) value of 20 to 400 KiB, log-uniform;
 * - 0.1% (at least 3): near the 1 MiB limit (900 KiB to 1 MiB - 1 KiB), half binary, half a
 *   PEM-like text bundle.
 * Every Secret carries the label `secret-steward.io/bench=true`, which scopes every measured
 * command (and the baseline) to exactly this set on a shared cluster.
 */
import { randomBytes } from 'node:crypto';

export const BENCH_LABEL = 'secret-steward.io/bench';
const KIB = 1024;
const MAX_DATA = 1024 * 1024;

export interface BenchSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

export interface MixStats {
  secrets: number;
  namespaces: number;
  /** Decoded data bytes. */
  dataBytes: number;
  small: number;
  helm: number;
  large: number;
  binaryValues: number;
  textValues: number;
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function namespaceName(i: number): string {
  return `team-${String(i).padStart(4, '0')}`;
}

/** A valid self-signed pair, reused by every TLS Secret (the drill checks that they match). */
export interface TlsPair {
  cert: string;
  key: string;
}

const WORDS = [
  'server',
  'listen',
  'timeout',
  'retries',
  'endpoint',
  'region',
  'user',
  'enabled',
  'pool',
  'cache',
  'queue',
  'replica',
  'primary',
  'ssl',
  'mode',
];

function configText(rnd: () => number, bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = WORDS[Math.floor(rnd() * WORDS.length)];
    const line = rnd() < 0.2 ? `${w}_password: ${randomBytes(12).toString('base64url')}` : `${w}: ${Math.floor(rnd() * 10_000)}`;
    lines.push(line);
    n += line.length + 1;
  }
  return Buffer.from(lines.join('\n').slice(0, bytes));
}

function pemBundle(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const body = randomBytes(900)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n');
    const block = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    parts.push(block);
    n += block.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

/**
 * Yields `n` Secrets over `namespaces` namespaces (names `team-0000`...), deterministic in kind
 * and size for a given seed. `stats` is filled as they are produced.
 */
export function* generateSecrets(n: number, namespaces: number, tls: TlsPair, stats: MixStats, seed = 7): Generator<BenchSecret> {
  const rnd = prng(seed);
  const large = Math.max(3, Math.round(n * 0.001));
  const helm = Math.round(n * 0.069);
  // Spread the big ones evenly so that every part of a listing has some.
  const largeEvery = Math.floor(n / large);
  const helmEvery = n / helm;
  let nextHelm = helmEvery / 2;
  stats.secrets = 0;
  stats.namespaces = namespaces;
  for (let i = 0; i < n; i++) {
    let namespace = namespaceName(i % namespaces);
    const labels: Record<string, string> = { [BENCH_LABEL]: 'true', app: `app-${i % 37}` };
    const data: Record<string, string> = {};
    let type = 'Opaque';
    const put = (k: string, v: Buffer, binary: boolean) => {
      data[k] = v.toString('base64');
      stats.dataBytes += v.length;
      if (binary) stats.binaryValues++;
      else stats.textValues++;
    };
    let name: string;
    if (i % largeEvery === largeEvery - 1 && stats.large < large) {
      stats.large++;
      name = `bundle-${i}`;
      // Spread over the namespaces: with i % namespaces they would all share one (largeEvery is
      // a multiple of the namespace count), and be listed back to back in one huge page.
      namespace = namespaceName((stats.large * 7919) % namespaces);
      const size = Math.floor(900 * KIB + rnd() * (MAX_DATA - KIB - 900 * KIB));
      if (rnd() < 0.5) put('archive.bin', randomBytes(size), true);
      else put('ca-bundle.pem', pemBundle(size), false);
    } else if (i >= nextHelm) {
      nextHelm += helmEvery;
      stats.helm++;
      const release = `rel${i % 97}`;
      const version = 1 + (i % 10);
      name = `sh.helm.release.v1.${release}.v${version}-${i}`;
      type = 'helm.sh/release.v1';
      Object.assign(labels, { owner: 'helm', name: release, version: String(version), status: 'superseded' });
      // Log-uniform 20-400 KiB; Helm stores base64(gzip(json)): incompressible bytes.
      const size = Math.floor(20 * KIB * Math.exp(rnd() * Math.log(20)));
      put('release', randomBytes(size), true);
    } else {
      stats.small++;
      const kind = rnd();
      name = `app-secret-${i}`;
      if (kind < 0.05) {
        type = 'kubernetes.io/dockerconfigjson';
        put(
          '.dockerconfigjson',
          Buffer.from(JSON.stringify({ auths: { [`registry-${i % 13}.example`]: { auth: randomBytes(24).toString('base64') } } })),
          false,
        );
      } else if (kind < 0.08) {
        type = 'kubernetes.io/tls';
        put('tls.crt', Buffer.from(tls.cert), false);
        put('tls.key', Buffer.from(tls.key), false);
      } else if (kind < 0.12) {
        type = 'kubernetes.io/basic-auth';
        put('username', Buffer.from(`svc-${i}`), false);
        put('password', Buffer.from(randomBytes(18).toString('base64url')), false);
      } else {
        const keys = 1 + Math.floor(rnd() * 6);
        for (let k = 0; k < keys; k++) {
          const r = rnd();
          const size = Math.floor(16 + rnd() * rnd() * 2032);
          if (r < 0.45)
            put(
              `password-${k}`,
              Buffer.from(
                randomBytes(Math.ceil(size * 0.75))
                  .toString('base64url')
                  .slice(0, size),
              ),
              false,
            );
          else if (r < 0.8) put(`config-${k}.yaml`, configText(rnd, size), false);
          else put(`keystore-${k}.bin`, randomBytes(size), true);
        }
      }
    }
    stats.secrets++;
    yield { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, type, data };
  }
}

export function emptyStats(): MixStats {
  return { secrets: 0, namespaces: 0, dataBytes: 0, small: 0, helm: 0, large: 0, binaryValues: 0, textValues: 0 };
}
