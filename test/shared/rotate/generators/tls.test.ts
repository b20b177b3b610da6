import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLS_KEY_ALGORITHMS, type TlsSpec, tlsGenerator } from '../../../../shared/rotate/generators/tls.js';
import { commandRuns, requireDependency } from '../../../support/dependencies.js';
import { testContext, wasRegistered } from './context.js';

const spec = (o: Record<string, unknown>): TlsSpec => tlsGenerator.schema.parse({ generator: 'tls', ...o });
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY = 86_400_000;

/** A CA made by our own generator (`ca: true`), as a CA Secret's data. */
async function makeCa(o: Record<string, unknown> = {}, now = new Date()): Promise<Map<string, Buffer>> {
  return tlsGenerator.generate(spec({ commonName: 'Test Root CA', ca: true, validity: '365d', ...o }), testContext('tls.crt', { now }));
}

/** The basicConstraints of a PEM certificate, parsed by @peculiar/x509. */
async function basicConstraints(pem: Buffer): Promise<{ ca: boolean; pathLength: number | undefined }> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const ext = new x509.X509Certificate(pem.toString('utf8')).getExtension(x509.BasicConstraintsExtension);
  assert.ok(ext, 'the certificate has basicConstraints');
  return { ca: ext.ca, pathLength: ext.pathLength };
}

/** A CA made by openssl with a SEC1 ("EC PRIVATE KEY") key, as operators often have. */
function opensslCa(): Map<string, Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'openssl-ca-'));
  try {
    const key = execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout']);
    writeFileSync(join(dir, 'ca.key'), key, { mode: 0o600 });
    const cert = execFileSync('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'ca.key'),
      '-subj',
      '/CN=openssl CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return new Map([
      ['ca.crt', cert],
      ['ca.key', key],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('shared/rotate/generators/tls', function () {
  this.timeout(60_000);

  it('makes a self-signed server certificate with its SANs and private key', async () => {
    const ctx = testContext('tls.crt');

    const out = await tlsGenerator.generate(
      spec({ dnsNames: ['api.example.com', '*.api.example.com'], ipAddresses: ['10.1.2.3', '::1'], caCertificate: 'ca.crt' }),
      ctx,
    );

    const cert = new X509Certificate(out.get('tls.crt')!);
    assert.equal(cert.subject, 'CN=api.example.com');
    assert.equal(cert.checkHost('api.example.com'), 'api.example.com');
    assert.equal(cert.checkHost('www.api.example.com'), '*.api.example.com');
    assert.equal(cert.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.ok(cert.issuer === cert.subject && cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.ok(cert.checkPrivateKey(createPrivateKey(out.get('tls.key')!)));
    assert.match(out.get('tls.key')!.toString(), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(out.get('ca.crt')!.equals(out.get('tls.crt')!), 'ca.crt of a self-signed certificate is itself');
    assert.ok(wasRegistered(ctx.registered, out.get('tls.key')!));
  });

  it('honours validity (backdated a little for clock skew)', async () => {
    const now = new Date('2026-01-01T00:00:00Z');

    const cert = new X509Certificate(
      (await tlsGenerator.generate(spec({ commonName: 'svc', validity: '30d' }), testContext('tls.crt', { now }))).get('tls.crt')!,
    );

    assert.equal(new Date(cert.validTo).getTime(), now.getTime() + 30 * DAY);
    assert.equal(new Date(cert.validFrom).getTime(), now.getTime() - 5 * 60_000);
  });

  for (const keyAlgorithm of TLS_KEY_ALGORITHMS) {
    it(`signs ${keyAlgorithm} leaf certificates with a CA kept in another Secret, chaining to it`, async () => {
      const ca = await makeCa({ keyAlgorithm: 'ecdsa-p384' });
      const ctx = testContext('tls.crt', { secrets: { 'root-ca': ca } });

      const out = await tlsGenerator.generate(
        spec({
          dnsNames: ['db.internal'],
          keyAlgorithm,
          usages: ['server', 'client'],
          issuer: { secret: 'root-ca' },
          caCertificate: 'ca.crt',
        }),
        ctx,
      );

      const leaf = new X509Certificate(out.get('tls.crt')!);
      const caCert = new X509Certificate(ca.get('tls.crt')!);
      assert.ok(leaf.checkIssued(caCert), 'issued by the CA');
      assert.ok(leaf.verify(caCert.publicKey), 'signature verifies with the CA key');
      assert.equal(leaf.issuer, 'CN=Test Root CA');
      assert.deepEqual(leaf.keyUsage?.sort(), [SERVER_AUTH, CLIENT_AUTH].sort());
      assert.ok(leaf.checkPrivateKey(createPrivateKey(out.get('tls.key')!)));
      assert.ok(out.get('ca.crt')!.equals(ca.get('tls.crt')!), 'ca.crt holds the issuer');
      assert.ok(wasRegistered(ctx.registered, ca.get('tls.key')!), 'the CA key read is registered too');
    });
  }

  it('appends the issuer to the certificate with chain: true', async () => {
    const ca = await makeCa();

    const out = await tlsGenerator.generate(
      spec({ commonName: 'svc', issuer: { secret: 'ca' }, chain: true }),
      testContext('tls.crt', { secrets: { ca } }),
    );

    const pems = out
      .get('tls.crt')!
      .toString()
      .match(/-----BEGIN CERTIFICATE-----/g);
    assert.equal(pems?.length, 2);
  });

  it('clamps the validity to the CA and says so', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const ca = await makeCa({ validity: '10d' }, now);
    const ctx = testContext('tls.crt', { secrets: { ca }, now });

    const leaf = new X509Certificate(
      (await tlsGenerator.generate(spec({ commonName: 'svc', issuer: { secret: 'ca' } }), ctx)).get('tls.crt')!,
    );

    assert.equal(leaf.validTo, new X509Certificate(ca.get('tls.crt')!).validTo);
    assert.match(ctx.warnings[0], /clamped to the CA's end/);
  });

  it('uses a CA made by openssl with a SEC1 key under custom key names', async function () {
    requireDependency(this, 'openssl', commandRuns('openssl', ['version']), 'apt-get install openssl');
    const ca = opensslCa();

    const out = await tlsGenerator.generate(
      spec({ commonName: 'svc', issuer: { secret: 'corp-ca', certificateKey: 'ca.crt', privateKeyKey: 'ca.key' } }),
      testContext('tls.crt', { secrets: { 'corp-ca': ca } }),
    );

    const leaf = new X509Certificate(out.get('tls.crt')!);
    assert.ok(leaf.checkIssued(new X509Certificate(ca.get('ca.crt')!)));
    assert.ok(leaf.verify(new X509Certificate(ca.get('ca.crt')!).publicKey));
  });

  it('makes a CA certificate that can sign', async () => {
    const ca = await makeCa();

    const cert = new X509Certificate(ca.get('tls.crt')!);

    assert.equal(cert.ca, true);
    assert.ok(cert.checkPrivateKey(createPrivateKey(ca.get('tls.key')!)));
  });

  it('reads its issuer as issuer, and as issuer-ca when it makes a CA, and declares that read', async () => {
    const ca = await makeCa();
    const leafCtx = testContext('tls.crt', { secrets: { 'root-ca': ca } });
    const subCtx = testContext('tls.crt', { secrets: { 'root-ca': ca } });

    await tlsGenerator.generate(spec({ commonName: 'svc', issuer: { secret: 'root-ca' } }), leafCtx);
    await tlsGenerator.generate(spec({ commonName: 'Sub CA', ca: true, issuer: { secret: 'root-ca' } }), subCtx);

    assert.deepEqual(leafCtx.reads, ['root-ca:issuer']);
    assert.deepEqual(subCtx.reads, ['root-ca:issuer-ca']);
    assert.deepEqual(tlsGenerator.references?.(spec({ commonName: 'Sub CA', ca: true, issuer: { secret: 'root-ca' } })), [
      { secret: 'root-ca', use: 'issuer-ca', path: ['issuer', 'secret'] },
    ]);
    assert.deepEqual(tlsGenerator.references?.(spec({ commonName: 'svc' })), []);
  });

  it('gives a sub-CA it signs pathLenConstraint 0, and leaves a self-signed CA unconstrained', async () => {
    const root = await makeCa();
    const ctx = testContext('tls.crt', { secrets: { 'root-ca': root } });

    const sub = await tlsGenerator.generate(spec({ commonName: 'Sub CA', ca: true, issuer: { secret: 'root-ca' } }), ctx);

    assert.deepEqual(await basicConstraints(sub.get('tls.crt')!), { ca: true, pathLength: 0 });
    assert.deepEqual(await basicConstraints(root.get('tls.crt')!), { ca: true, pathLength: undefined });
    assert.ok(new X509Certificate(sub.get('tls.crt')!).verify(new X509Certificate(root.get('tls.crt')!).publicKey));
  });

  it('refuses to sign a sub-CA with a CA whose pathLenConstraint is 0, and still signs leaves with it', async () => {
    const root = await makeCa();
    const sub = await tlsGenerator.generate(
      spec({ commonName: 'Sub CA', ca: true, issuer: { secret: 'root-ca' } }),
      testContext('tls.crt', { secrets: { 'root-ca': root } }),
    );
    const ctx = testContext('tls.crt', { secrets: { 'sub-ca': sub } });

    await assert.rejects(
      tlsGenerator.generate(spec({ commonName: 'Sub-sub CA', ca: true, issuer: { secret: 'sub-ca' } }), ctx),
      /issuer Secret apps\/sub-ca: its certificate has pathLenConstraint 0, so it may not sign a sub-CA \(ca: true\)/,
    );
    const leaf = await tlsGenerator.generate(spec({ commonName: 'svc', issuer: { secret: 'sub-ca' } }), ctx);
    assert.equal(new X509Certificate(leaf.get('tls.crt')!).issuer, 'CN=Sub CA');
  });

  const failures: Array<[string, () => Promise<Record<string, ReadonlyMap<string, Buffer>>>, Record<string, unknown>, RegExp]> = [
    ['a missing CA Secret', async () => ({}), {}, /issuer Secret apps\/ca not found/],
    [
      'a CA Secret without the key',
      async () => ({ ca: new Map([['tls.crt', (await makeCa()).get('tls.crt')!]]) }),
      {},
      /has no key tls.key/,
    ],
    [
      'a certificate that is no CA',
      async () => ({ ca: await tlsGenerator.generate(spec({ commonName: 'leaf' }), testContext('tls.crt')) }),
      {},
      /is not a CA/,
    ],
    [
      'a key that is not the CA key',
      async () => {
        const a = await makeCa();
        const b = await makeCa();
        return {
          ca: new Map([
            ['tls.crt', a.get('tls.crt')!],
            ['tls.key', b.get('tls.key')!],
          ]),
        };
      },
      {},
      /is not the private key of tls.crt/,
    ],
    ['an expired CA', async () => ({ ca: await makeCa({ validity: '1h' }, new Date('2020-01-01T00:00:00Z')) }), {}, /expired/],
    [
      'garbage in the CA Secret',
      async () => ({
        ca: new Map([
          ['tls.crt', Buffer.from('nope')],
          ['tls.key', Buffer.from('nope')],
        ]),
      }),
      {},
      /is not a PEM or DER certificate/,
    ],
  ];
  for (const [label, secrets, extra, message] of failures) {
    it(`fails clearly with ${label}`, async () => {
      const ctx = testContext('tls.crt', { secrets: await secrets() });

      await assert.rejects(tlsGenerator.generate(spec({ commonName: 'svc', issuer: { secret: 'ca' }, ...extra }), ctx), message);
    });
  }

  it('validates where the private key and CA certificate go', () => {
    assert.deepEqual(
      tlsGenerator.validate?.('tls.crt', spec({ commonName: 'x', privateKey: 'tls.crt' })).map((p) => p.message),
      ['must differ from the key holding the certificate'],
    );
    assert.deepEqual(
      tlsGenerator.validate?.('tls.crt', spec({ commonName: 'x', chain: true })).map((p) => p.path.join('.')),
      ['chain'],
    );
    assert.deepEqual(tlsGenerator.extraOutputs('cert.pem', spec({ commonName: 'x', privateKey: 'key.pem', caCertificate: 'ca.pem' })), [
      'key.pem',
      'ca.pem',
    ]);
  });
});
