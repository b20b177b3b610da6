import { createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../../config/options.js';
import type { ReferenceUse } from '../allow-references.js';
import { type Generator, type GeneratorContext, isValidDataKey, type SpecProblem } from './generator.js';

export const TLS_KEY_ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'ed25519'] as const;
export type TlsKeyAlgorithm = (typeof TLS_KEY_ALGORITHMS)[number];

/** Either case, spelled out rather than with the `i` flag, which the published JSON Schema's pattern could not carry. */
const DNS_NAME = /^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;
const MIN_VALIDITY = 3_600_000;
const MAX_VALIDITY = 3650 * 86_400_000;
/** notBefore is backdated by this much so that clocks slightly behind ours accept the certificate. */
const BACKDATE_MS = 5 * 60_000;

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => parseDuration(v) !== undefined, 'expected a duration such as 90d, 720h or 1w')
    .refine(
      (v) => {
        const ms = parseDuration(v);
        return ms === undefined || (ms >= MIN_VALIDITY && ms <= MAX_VALIDITY);
      },
      `must be between ${formatDuration(MIN_VALIDITY)} and ${formatDuration(MAX_VALIDITY)}`,
    );

const schema = z.strictObject({
  generator: z.literal('tls'),
  /** Subject CN. @default the first DNS name or IP address */
  commonName: z.string().min(1).max(64).optional(),
  dnsNames: z.array(z.string().regex(DNS_NAME, 'expected a DNS name such as api.example.com or *.example.com')).default([]),
  ipAddresses: z.array(z.string().refine((v) => isIP(v) !== 0, 'expected an IPv4 or IPv6 address')).default([]),
  /** @default 90d */
  validity: duration('90d'),
  /** @default ecdsa-p256 */
  keyAlgorithm: z.enum(TLS_KEY_ALGORITHMS).default('ecdsa-p256'),
  /** Extended key usages. @default [server] */
  usages: z
    .array(z.enum(['server', 'client']))
    .min(1)
    .default(['server']),
  /**
   * Make a CA certificate (for rotating an internal CA) instead of a leaf. Signed by an issuer,
   * it gets pathLenConstraint 0 (it signs leaves only), and the issuer's Secret must allow it
   * (use `issuer-ca` in its `secret-steward.io/allow-references`).
   */
  ca: z.boolean().default(false),
  /**
   * Sign with a CA kept in another Secret of the namespace; self-signed when absent. That Secret
   * must allow this one (`secret-steward.io/allow-references: "<this Secret>:issuer"`).
   */
  issuer: z
    .strictObject({
      secret: z.string().min(1),
      /** @default tls.crt */
      certificateKey: z.string().default('tls.crt'),
      /** @default tls.key */
      privateKeyKey: z.string().default('tls.key'),
    })
    .optional(),
  /** Data key for the private key (PKCS#8 PEM). @default tls.key when the certificate key is tls.crt */
  privateKey: z.string().optional(),
  /** Data key for the issuer's certificate (the certificate itself when self-signed), e.g. ca.crt. */
  caCertificate: z.string().optional(),
  /** Append the issuer's certificate to the certificate key (a chain). @default false */
  chain: z.boolean().default(false),
});

export type TlsSpec = z.infer<typeof schema>;

/** The data key holding the certificate's private key. */
export function tlsPrivateKeyKey(key: string, spec: TlsSpec): string | undefined {
  return spec.privateKey ?? (key === 'tls.crt' ? 'tls.key' : undefined);
}

interface Algorithms {
  generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm;
  sign: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

function leafAlgorithms(alg: TlsKeyAlgorithm): Algorithms {
  switch (alg) {
    case 'ecdsa-p256':
      return { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams };
    case 'ecdsa-p384':
      return { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams };
    case 'rsa-2048':
    case 'rsa-3072':
      return {
        generate: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: alg === 'rsa-2048' ? 2048 : 3072,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm,
      };
    case 'ed25519':
      return { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  }
}

/** WebCrypto import and signing parameters for an existing private key (a CA's). */
function issuerAlgorithms(key: KeyObject): {
  import: webcrypto.Algorithm | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  sign: webcrypto.Algorithm;
} {
  if (key.asymmetricKeyType === 'rsa') {
    return {
      import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams,
      sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm,
    };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['P-256', 'SHA-256'],
      secp384r1: ['P-384', 'SHA-384'],
      secp521r1: ['P-521', 'SHA-512'],
    };
    const hit = curve === undefined ? undefined : byCurve[curve];
    if (hit === undefined) throw new Error(`unsupported EC curve ${curve ?? 'unknown'} (supported: P-256, P-384, P-521)`);
    return { import: { name: 'ECDSA', namedCurve: hit[0] }, sign: { name: 'ECDSA', hash: hit[1] } as webcrypto.Algorithm };
  }
  if (key.asymmetricKeyType === 'ed25519') return { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  throw new Error(`unsupported private key type ${key.asymmetricKeyType ?? 'unknown'} (supported: RSA, ECDSA, Ed25519)`);
}

/** @peculiar/x509 needs a Reflect polyfill; loaded only when a certificate is made. */
async function loadX509(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

interface Issuer {
  certificatePem: string;
  certificate: X509Certificate;
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.Algorithm;
}

/** What the policy reads its issuer's Secret for: signing a sub-CA is a use of its own. */
const issuerUse = (spec: TlsSpec): ReferenceUse => (spec.ca ? 'issuer-ca' : 'issuer');

async function loadIssuer(spec: NonNullable<TlsSpec['issuer']>, use: ReferenceUse, ctx: GeneratorContext, now: Date): Promise<Issuer> {
  const where = `issuer Secret ${ctx.namespace}/${spec.secret}`;
  const data = await ctx.readSecret(spec.secret, use);
  if (data === undefined) throw new Error(`${where} not found`);
  const certBytes = data.get(spec.certificateKey);
  const keyBytes = data.get(spec.privateKeyKey);
  if (certBytes === undefined) throw new Error(`${where} has no key ${spec.certificateKey}`);
  if (keyBytes === undefined) throw new Error(`${where} has no key ${spec.privateKeyKey}`);
  ctx.register(keyBytes);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certBytes);
  } catch {
    throw new Error(`${where}: key ${spec.certificateKey} is not a PEM or DER certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBytes);
  } catch {
    throw new Error(`${where}: key ${spec.privateKeyKey} is not a PEM or DER private key`);
  }
  if (!certificate.ca)
    throw new Error(`${where}: the certificate in ${spec.certificateKey} is not a CA (basicConstraints CA:TRUE missing)`);
  if (!certificate.checkPrivateKey(privateKey))
    throw new Error(`${where}: ${spec.privateKeyKey} is not the private key of ${spec.certificateKey}`);
  if (new Date(certificate.validTo).getTime() <= now.getTime())
    throw new Error(`${where}: the CA certificate expired at ${new Date(certificate.validTo).toISOString()}`);
  const algs = issuerAlgorithms(privateKey);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  ctx.register(pkcs8);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algs.import, false, ['sign']);
  return { certificatePem: certificate.toString(), certificate, signingKey, signingAlgorithm: algs.sign };
}

function positiveSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/**
 * An X.509 certificate and its new private key: self-signed, or signed by a CA kept in
 * another Secret of the same namespace (`issuer`). Leaf certificates get the SANs, the
 * requested extended key usages and a validity clamped to the CA's; `ca: true` makes a CA
 * (signed by an issuer: pathLenConstraint 0, and never by an issuer whose own is 0).
 */
export const tlsGenerator: Generator<TlsSpec> = {
  name: 'tls',
  summary: 'X.509 certificate + private key, self-signed or signed by a CA in another Secret; validity and SANs',
  schema,
  extraOutputs: (key, spec) => [tlsPrivateKeyKey(key, spec), spec.caCertificate].filter((k): k is string => k !== undefined),
  inputs: () => [],
  references: (spec) =>
    spec.issuer === undefined ? [] : [{ secret: spec.issuer.secret, use: issuerUse(spec), path: ['issuer', 'secret'] }],
  validate(key, spec) {
    const problems: SpecProblem[] = [];
    const privateKey = tlsPrivateKeyKey(key, spec);
    if (privateKey === undefined)
      problems.push({
        path: ['privateKey'],
        message: 'is required unless the certificate key is tls.crt (the data key for the private key)',
      });
    for (const field of ['privateKey', 'caCertificate'] as const) {
      const target = spec[field];
      if (target === undefined) continue;
      if (!isValidDataKey(target))
        problems.push({ path: [field], message: `"${target}" is not a valid data key (letters, digits, '-', '_', '.')` });
      else if (target === key) problems.push({ path: [field], message: 'must differ from the key holding the certificate' });
    }
    if (privateKey !== undefined && privateKey === spec.caCertificate)
      problems.push({ path: ['caCertificate'], message: 'must differ from privateKey' });
    if (spec.commonName === undefined && spec.dnsNames.length === 0 && spec.ipAddresses.length === 0) {
      problems.push({ path: ['commonName'], message: 'give commonName, dnsNames or ipAddresses (the certificate needs a subject)' });
    }
    if (spec.chain && spec.issuer === undefined)
      problems.push({ path: ['chain'], message: 'needs an issuer (a self-signed certificate has no chain)' });
    return problems;
  },
  async generate(spec, ctx) {
    const x509 = await loadX509();
    const now = ctx.now;
    const issuer = spec.issuer === undefined ? undefined : await loadIssuer(spec.issuer, issuerUse(spec), ctx, now);
    const issuerCert = issuer === undefined ? undefined : new x509.X509Certificate(issuer.certificatePem);
    if (spec.ca && issuerCert?.getExtension(x509.BasicConstraintsExtension)?.pathLength === 0) {
      throw new Error(
        `issuer Secret ${ctx.namespace}/${spec.issuer!.secret}: its certificate has pathLenConstraint 0, so it may not sign a sub-CA (ca: true)`,
      );
    }
    const algs = leafAlgorithms(spec.keyAlgorithm);
    const keys = (await webcrypto.subtle.generateKey(algs.generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const privatePem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    ctx.register(privatePem);

    let notAfter = new Date(now.getTime() + parseDuration(spec.validity)!);
    if (issuer !== undefined) {
      const caEnd = new Date(issuer.certificate.validTo);
      if (caEnd.getTime() < notAfter.getTime()) {
        ctx.warn(`certificate validity clamped to the CA's end ${caEnd.toISOString()} (asked for ${spec.validity})`);
        notAfter = caEnd;
      }
    }
    const cn = spec.commonName ?? spec.dnsNames[0] ?? spec.ipAddresses[0];
    const subject = [{ CN: [cn] }];
    const rsa = spec.keyAlgorithm.startsWith('rsa');
    const usages = spec.ca
      ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    const extensions: InstanceType<typeof x509.Extension>[] = [
      // A sub-CA signed by an issuer signs leaves only: a policy cannot grow the issuer's tree.
      new x509.BasicConstraintsExtension(spec.ca, spec.ca && issuer !== undefined ? 0 : undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ];
    if (!spec.ca) {
      extensions.push(
        new x509.ExtendedKeyUsageExtension(
          spec.usages.map((u) => (u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth)),
        ),
      );
    }
    const sans = [
      ...spec.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...spec.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ];
    if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));

    const common = { serialNumber: positiveSerial(), notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter };
    let cert: import('@peculiar/x509').X509Certificate;
    if (issuer === undefined || issuerCert === undefined) {
      cert = await x509.X509CertificateGenerator.createSelfSigned({
        ...common,
        name: subject,
        keys,
        signingAlgorithm: algs.sign,
        extensions,
      });
    } else {
      extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey));
      cert = await x509.X509CertificateGenerator.create({
        ...common,
        subject,
        issuer: issuerCert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.signingKey,
        signingAlgorithm: issuer.signingAlgorithm,
        extensions,
      });
    }
    const certPem = pem(cert.toString('pem'));
    const caPem = issuer === undefined ? certPem : pem(issuer.certificatePem);
    const out = new Map<string, Buffer>();
    out.set(ctx.key, Buffer.from(spec.chain && issuer !== undefined ? certPem + caPem : certPem, 'utf8'));
    out.set(tlsPrivateKeyKey(ctx.key, spec)!, Buffer.from(privatePem, 'utf8'));
    if (spec.caCertificate !== undefined) out.set(spec.caCertificate, Buffer.from(caPem, 'utf8'));
    return out;
  },
};

/** PEM with `\n` line ends and one trailing newline. */
function pem(text: string): string {
  return `${text.replace(/\r\n/g, '\n').trim()}\n`;
}
