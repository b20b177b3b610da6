import assert from 'node:assert/strict';
import type { ExportedSecret } from '../../../shared/backup/secret-export.js';
import { dataKeyProblem, isDnsLabel, isDnsSubdomain } from '../../../shared/kube/object-names.js';
import { base64Size, validateSecret } from '../../../shared/verify-restore/secret-validity.js';
import { makeTls } from './drill-fixtures.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const NOW = new Date('2026-11-27T12:00:00Z');

function secret(over: Partial<ExportedSecret> & { data?: Record<string, string> }): ExportedSecret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'apps' }, type: 'Opaque', ...over };
}

describe('shared/verify-restore/secret-validity', () => {
  let tls: { cert: string; key: string };
  let otherTls: { cert: string; key: string };
  let expiredTls: { cert: string; key: string };
  before(async () => {
    tls = await makeTls('a.test', 30, new Date('2026-11-01T00:00:00Z'));
    otherTls = await makeTls('b.test', 30, new Date('2026-11-01T00:00:00Z'));
    expiredTls = await makeTls('old.test', 1, new Date('2025-01-01T00:00:00Z'));
  });

  it('accepts valid Secrets of every common type', () => {
    const valid: ExportedSecret[] = [
      secret({ data: { username: b64('u'), 'pass.word_1-x': b64('p') } }),
      secret({
        metadata: {
          name: 'a.b-c',
          namespace: 'x',
          labels: { 'app.kubernetes.io/name': 'web', empty: '' },
          annotations: { 'example.com/Note': 'free text ✓' },
        },
      }),
      secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64(tls.cert + otherTls.cert), 'tls.key': b64(tls.key) } }),
      secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"auths":{}}') } }),
      secret({ type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64('{"r.example":{}}') } }),
      secret({ type: 'kubernetes.io/basic-auth', data: { password: b64('') } }),
      secret({ type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64('-----BEGIN OPENSSH PRIVATE KEY-----\n...') } }),
      secret({ data: { big: Buffer.alloc(1024 * 1024).toString('base64') } }),
      // Not canonical (non-zero bits after the last byte), but what the API server's decoder accepts.
      secret({ data: { loose: 'QR==', empty: '' } }),
    ];
    for (const s of valid) assert.deepEqual(validateSecret(s, NOW), { problems: [], warnings: [] }, JSON.stringify(s.metadata) + s.type);
  });

  const invalid: Array<[string, ExportedSecret, RegExp, 'invalid' | 'content']> = [
    [
      'an upper-case name',
      secret({ metadata: { name: 'DB', namespace: 'apps' } }),
      /name "DB" is not a valid DNS-1123 subdomain/,
      'invalid',
    ],
    [
      'a 254-character name',
      secret({ metadata: { name: 'a'.repeat(254), namespace: 'apps' } }),
      /is not a valid DNS-1123 subdomain/,
      'invalid',
    ],
    [
      'a namespace with a dot',
      secret({ metadata: { name: 'db', namespace: 'a.b' } }),
      /namespace "a.b" is not a valid DNS-1123 label/,
      'invalid',
    ],
    ['a data key with a slash', secret({ data: { 'a/b': b64('x') } }), /data key "a\/b" may contain only/, 'invalid'],
    ['the data key ..x', secret({ data: { '..x': b64('x') } }), /must not be '.' or '..' or start with '..'/, 'invalid'],
    ['a value that is not base64', secret({ data: { k: 'not base64!' } }), /the value of data key "k" is not valid base64/, 'invalid'],
    ['base64 without its padding', secret({ data: { k: 'QQ' } }), /the value of data key "k" is not valid base64/, 'invalid'],
    ['base64url', secret({ data: { k: 'a-_b' } }), /the value of data key "k" is not valid base64/, 'invalid'],
    ['padding in the middle', secret({ data: { k: 'QQ==QQ==' } }), /the value of data key "k" is not valid base64/, 'invalid'],
    [
      'more than 1 MiB',
      secret({ data: { a: Buffer.alloc(600_000).toString('base64'), b: Buffer.alloc(600_000).toString('base64') } }),
      /its data is 1200000 bytes, more than the API's limit of 1048576 bytes/,
      'invalid',
    ],
    [
      'a bad label value',
      secret({ metadata: { name: 'db', namespace: 'apps', labels: { app: 'has space' } } }),
      /the value of label "app" is not a valid label value/,
      'invalid',
    ],
    [
      'a bad annotation key',
      secret({ metadata: { name: 'db', namespace: 'apps', annotations: { '-bad': 'x' } } }),
      /annotation key "-bad" is not a qualified name/,
      'invalid',
    ],
    [
      'over 256 KiB of annotations',
      secret({ metadata: { name: 'db', namespace: 'apps', annotations: { big: 'x'.repeat(262_144) } } }),
      /its annotations are 262147 bytes/,
      'invalid',
    ],
    [
      'tls without tls.key',
      secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64('x') } }),
      /type kubernetes.io\/tls requires data key tls.key/,
      'invalid',
    ],
    [
      'tls with placeholder PEM',
      secret({
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), 'tls.key': b64('x') },
      }),
      /tls.crt: PEM certificate 1 of 1 does not parse as X.509/,
      'content',
    ],
    [
      'tls without any PEM block',
      secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64('garbage'), 'tls.key': b64('garbage') } }),
      /tls.crt holds no PEM certificate/,
      'content',
    ],
    [
      'dockerconfigjson that is not JSON',
      secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{auths') } }),
      /.dockerconfigjson does not parse as a JSON object/,
      'invalid',
    ],
    [
      'dockerconfigjson that is a JSON array',
      secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('[]') } }),
      /does not parse as a JSON object/,
      'invalid',
    ],
    [
      'dockerconfigjson without its key',
      secret({ type: 'kubernetes.io/dockerconfigjson', data: {} }),
      /requires data key .dockerconfigjson/,
      'invalid',
    ],
    [
      'basic-auth with neither key',
      secret({ type: 'kubernetes.io/basic-auth', data: { user: b64('u') } }),
      /requires data key username or password/,
      'invalid',
    ],
    [
      'ssh-auth without its key',
      secret({ type: 'kubernetes.io/ssh-auth', data: {} }),
      /requires a non-empty data key ssh-privatekey/,
      'invalid',
    ],
    [
      'a service-account token without its annotation',
      secret({ type: 'kubernetes.io/service-account-token', data: {} }),
      /requires annotation kubernetes.io\/service-account.name/,
      'invalid',
    ],
  ];
  for (const [what, s, message, severity] of invalid) {
    it(`rejects ${what} (${severity})`, () => {
      const r = validateSecret(s, NOW);
      assert.ok(
        r.problems.some((p) => message.test(p.message) && p.severity === severity),
        JSON.stringify(r.problems),
      );
    });
  }

  it('rejects a tls.key that is not the key of the certificate', () => {
    const r = validateSecret(secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64(tls.cert), 'tls.key': b64(otherTls.key) } }), NOW);

    assert.deepEqual(r.problems, [{ severity: 'content', message: 'tls.key is not the private key of the first certificate in tls.crt' }]);
  });

  it('warns (does not fail) about an expired certificate', () => {
    const r = validateSecret(
      secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64(expiredTls.cert), 'tls.key': b64(expiredTls.key) } }),
      NOW,
    );

    assert.deepEqual(r.problems, []);
    assert.match(r.warnings[0], /its certificate \(tls.crt\) expired on 2025-01-02T00:00:00\.000Z/);
  });

  it('names keys, never values, in its messages', () => {
    const value = 'VALUE-THAT-MUST-NOT-APPEAR';
    const r = validateSecret(secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(`{${value}`) } }), NOW);
    assert.ok(r.problems.length > 0);
    assert.ok(!JSON.stringify(r).includes(value));
  });

  it('judges base64 exactly as the expression the API server decoder is held to, and sizes it as Buffer decodes it', () => {
    // The expression validateSecret used before it scanned character by character.
    const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    const alphabet = 'AQZaz09+/=-_ \n.é';
    const samples = [
      '',
      'QQ==',
      'QR==',
      'QUI=',
      'QUJD',
      '====',
      'A===',
      'AB=C',
      'QQ=',
      'QQ',
      'QQ==QQ==',
      'a-_b',
      'QUJD\n',
      b64('x'.repeat(100)),
    ];
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      let v = '';
      const n = 4 * (i % 4) + (i % 9 === 0 ? i % 3 : 0);
      for (let k = 0; k < n; k++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        v += alphabet[seed % alphabet.length];
      }
      samples.push(v);
    }

    const judged = samples.map((v) => [v, base64Size(v)] as const);

    let valid = 0;
    for (const [v, size] of judged) {
      assert.equal(size !== undefined, BASE64.test(v), JSON.stringify(v));
      if (size === undefined) continue;
      valid++;
      assert.equal(size, Buffer.from(v, 'base64').length, JSON.stringify(v));
    }
    assert.ok(valid > 100 && valid < samples.length - 100, `${valid} of ${samples.length} samples valid: the table tests both sides`);
  });

  it('knows DNS labels, subdomains and data keys', () => {
    assert.equal(isDnsLabel('a'.repeat(63)), true);
    assert.equal(isDnsLabel('a'.repeat(64)), false);
    assert.equal(isDnsSubdomain('a.b-c.d'), true);
    assert.equal(isDnsSubdomain('a..b'), false);
    assert.equal(dataKeyProblem('.env'), undefined);
    assert.match(dataKeyProblem('') ?? '', /is empty/);
  });
});
