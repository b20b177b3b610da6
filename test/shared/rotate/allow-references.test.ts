import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import {
  allowsReference,
  grantNames,
  parseAllowReferences,
  type ReferenceUse,
  referenceRefusal,
} from '../../../shared/rotate/allow-references.js';
import { BackendRegistry } from '../../../shared/rotate/backend.js';
import { SHIPPED_BACKENDS } from '../../../shared/rotate/backends/index.js';
import { describeProblems, parsePolicy, type RotationPolicy, referenceProblems } from '../../../shared/rotate/policy.js';
import { RotationError } from '../../../shared/rotate/rotation-error.js';
import { type PolicyReferrer, readReferencedSecret } from '../../../shared/rotate/secret-access.js';

const ALLOW = 'secret-steward.io/allow-references';
const inPlace = (name: string) => ({ name, versioned: false });

function policy(text: string): RotationPolicy {
  const r = parsePolicy(text, new BackendRegistry(SHIPPED_BACKENDS));
  if ('problems' in r) assert.fail(describeProblems(r.problems));
  return r.policy;
}

describe('shared/rotate/allow-references', () => {
  describe('parseAllowReferences', () => {
    const good: Array<[string, Array<{ secret: string; use: ReferenceUse }>]> = [
      ['api-tls:issuer', [{ secret: 'api-tls', use: 'issuer' }]],
      [
        'api-tls:issuer, mesh.intermediate:issuer-ca,*:admin',
        [
          { secret: 'api-tls', use: 'issuer' },
          { secret: 'mesh.intermediate', use: 'issuer-ca' },
          { secret: '*', use: 'admin' },
        ],
      ],
      [
        '\n  db:admin\n  db-ro:admin,\n',
        [
          { secret: 'db', use: 'admin' },
          { secret: 'db-ro', use: 'admin' },
        ],
      ],
    ];
    for (const [text, grants] of good) {
      it(`parses ${JSON.stringify(text)}`, () => {
        assert.deepEqual(parseAllowReferences(text), { grants });
      });
    }

    const bad: Array<[string, string[]]> = [
      ['', ['is empty (expected entries such as "api-tls:issuer" or "*:admin")']],
      [' , ', ['is empty (expected entries such as "api-tls:issuer" or "*:admin")']],
      ['api-tls', ['entry "api-tls" is not <secret>:<use> (e.g. api-tls:issuer; * for every Secret of the namespace)']],
      ['api-tls:issuer:x', ['entry "api-tls:issuer:x" is not <secret>:<use> (e.g. api-tls:issuer; * for every Secret of the namespace)']],
      ['api-tls:template', ['entry "api-tls:template": unknown use "template" (one of issuer, issuer-ca, admin)']],
      ['API_TLS:issuer', ['entry "API_TLS:issuer": "API_TLS" is not a Secret name or *']],
      [
        'ok:admin, web:Issuer, :admin',
        [
          'entry "web:Issuer": unknown use "Issuer" (one of issuer, issuer-ca, admin)',
          'entry ":admin" is not <secret>:<use> (e.g. api-tls:issuer; * for every Secret of the namespace)',
        ],
      ],
    ];
    for (const [text, problems] of bad) {
      it(`reports every problem of ${JSON.stringify(text)}`, () => {
        assert.deepEqual(parseAllowReferences(text), { problems });
      });
    }
  });

  describe('allowsReference', () => {
    const rows: Array<[string, string, ReferenceUse, boolean]> = [
      ['api-tls:issuer', 'api-tls', 'issuer', true],
      ['api-tls:issuer', 'other', 'issuer', false],
      ['api-tls:issuer', 'api-tls', 'issuer-ca', false],
      ['api-tls:issuer-ca', 'api-tls', 'issuer', true],
      ['api-tls:issuer-ca', 'api-tls', 'issuer-ca', true],
      ['api-tls:admin', 'api-tls', 'issuer', false],
      ['*:issuer', 'anything', 'issuer', true],
      ['*:issuer', 'anything', 'admin', false],
    ];
    for (const [text, referrer, use, allowed] of rows) {
      it(`${text} ${allowed ? 'allows' : 'does not allow'} ${referrer} as ${use}`, () => {
        const parsed = parseAllowReferences(text);
        assert.ok('grants' in parsed);

        assert.equal(allowsReference(parsed.grants, inPlace(referrer), use), allowed);
      });
    }

    it('names a versioned Secret by its base name too, which every version shares', () => {
      const parsed = parseAllowReferences('api-tls:issuer');
      assert.ok('grants' in parsed);

      assert.deepEqual(grantNames({ name: 'api-tls-v7', versioned: true }), ['api-tls', 'api-tls-v7']);
      assert.equal(allowsReference(parsed.grants, { name: 'api-tls-v7', versioned: true }, 'issuer'), true);
      assert.equal(allowsReference(parsed.grants, { name: 'api-tls-v7', versioned: false }, 'issuer'), false);
    });
  });

  describe('referenceRefusal', () => {
    const target = (annotations?: Record<string, string>) => ({ namespace: 'shop', name: 'shop-ca', annotations });

    it('names both Secrets and the exact annotation to add when there is none', () => {
      assert.equal(
        referenceRefusal(target(), inPlace('web-tls'), 'issuer'),
        'Secret shop/shop-ca does not allow Secret shop/web-tls to use it as issuer (sign certificates with its CA): add the annotation secret-steward.io/allow-references: "web-tls:issuer" to Secret shop/shop-ca',
      );
    });

    it('says which entry to add to an annotation that allows something else', () => {
      assert.equal(
        referenceRefusal(target({ [ALLOW]: 'web-tls:issuer' }), inPlace('web-tls'), 'issuer-ca'),
        'Secret shop/shop-ca does not allow Secret shop/web-tls to use it as issuer-ca (sign sub-CA certificates (ca: true) with its CA): add web-tls:issuer-ca to its secret-steward.io/allow-references annotation (now "web-tls:issuer")',
      );
    });

    it('allows nothing with a malformed annotation, and says why', () => {
      const refusal = referenceRefusal(target({ [ALLOW]: 'web-tls:issuer, oops' }), inPlace('web-tls'), 'issuer');

      assert.match(refusal ?? '', /its secret-steward\.io\/allow-references annotation is malformed, so it allows nothing \(entry "oops"/);
    });

    it('suggests the base name for a versioned Secret', () => {
      assert.match(referenceRefusal(target(), { name: 'api-tls-v3', versioned: true }, 'issuer') ?? '', /"api-tls:issuer"/);
    });

    it('is silent when allowed', () => {
      assert.equal(referenceRefusal(target({ [ALLOW]: '*:issuer' }), inPlace('web-tls'), 'issuer'), undefined);
    });
  });

  describe('policies', () => {
    const TLS = 'maxAge: 30d\nkeys:\n  tls.crt: { generator: tls, commonName: svc, issuer: { secret: shop-ca } }';
    const SUB_CA = 'maxAge: 30d\nkeys:\n  tls.crt: { generator: tls, commonName: sub, ca: true, issuer: { secret: shop-ca } }';
    const PG =
      'maxAge: 30d\nkeys: { password: password }\nbackend: { name: postgresql, strategy: alternating-users, adminSecretRef: { name: db-admin }, host: db, sslmode: disable }';

    it('lists the Secrets a policy reads, for what, and where it names them', () => {
      assert.deepEqual(policy(TLS).references, [{ secret: 'shop-ca', use: 'issuer', path: 'keys["tls.crt"].issuer.secret' }]);
      assert.deepEqual(policy(SUB_CA).references, [{ secret: 'shop-ca', use: 'issuer-ca', path: 'keys["tls.crt"].issuer.secret' }]);
      assert.deepEqual(policy(PG).references, [{ secret: 'db-admin', use: 'admin', path: 'backend.adminSecretRef.name' }]);
      assert.deepEqual(policy('maxAge: 30d\nkeys: { password: password }').references, []);
    });

    it('reports a reference the listed Secret does not allow, at the field naming it; leaves unseen ones to the read', () => {
      const seen = (annotations: Record<string, string>) => () => ({ annotations });

      const problems = referenceProblems(policy(PG), 'shop', 'db', seen({ [ALLOW]: 'db:issuer' }));

      assert.deepEqual(
        problems.map((p) => p.path),
        ['backend.adminSecretRef.name'],
      );
      assert.match(problems[0].message, /^Secret shop\/db-admin does not allow Secret shop\/db to use it as admin/);
      assert.deepEqual(referenceProblems(policy(PG), 'shop', 'db', seen({ [ALLOW]: 'db:admin' })), []);
      assert.deepEqual(
        referenceProblems(policy(PG), 'shop', 'db', () => undefined),
        [],
      );
    });
  });

  describe('readReferencedSecret', () => {
    const CA_DATA = { 'tls.key': Buffer.from('-----BEGIN PRIVATE KEY----- canary').toString('base64') };
    function store(annotations?: Record<string, string>) {
      const gets: string[] = [];
      const registered: Array<string | Uint8Array> = [];
      const secret: V1Secret = { metadata: { name: 'shop-ca', namespace: 'shop', annotations }, data: CA_DATA };
      return {
        gets,
        registered,
        deps: {
          secrets: {
            get: async (ns: string, name: string) => {
              gets.push(`${ns}/${name}`);
              return name === 'shop-ca' ? secret : undefined;
            },
          },
          register: (v: string | Uint8Array) => registered.push(v),
        },
      };
    }
    const referrer: PolicyReferrer = {
      namespace: 'shop',
      name: 'web-tls',
      versioned: false,
      references: [
        { secret: 'shop-ca', use: 'issuer' },
        { secret: 'gone', use: 'issuer' },
      ],
    };

    it('refuses a Secret without the opt-in from the same GET, without decoding, registering or returning its data', async () => {
      const s = store();

      const read = readReferencedSecret(s.deps, referrer, 'shop-ca', 'issuer');

      await assert.rejects(read, (e: unknown) => {
        assert.ok(e instanceof RotationError && e.code === 'policy');
        assert.match(e.message, /add the annotation secret-steward\.io\/allow-references: "web-tls:issuer" to Secret shop\/shop-ca/);
        assert.doesNotMatch(e.message, /canary|BEGIN/);
        return true;
      });
      assert.deepEqual(s.gets, ['shop/shop-ca']);
      assert.deepEqual(s.registered, []);
    });

    it('refuses a use the Secret does not allow', async () => {
      const s = store({ [ALLOW]: 'web-tls:admin' });

      await assert.rejects(readReferencedSecret(s.deps, referrer, 'shop-ca', 'issuer'), /add web-tls:issuer to its/);
      assert.deepEqual(s.registered, []);
    });

    it('returns and registers the data of a Secret that allows the read', async () => {
      const s = store({ [ALLOW]: 'web-tls:issuer' });

      const data = await readReferencedSecret(s.deps, referrer, 'shop-ca', 'issuer');

      assert.equal(data?.get('tls.key')?.toString(), '-----BEGIN PRIVATE KEY----- canary');
      assert.equal(s.registered.length, 1);
    });

    it('answers undefined for a missing Secret', async () => {
      assert.equal(await readReferencedSecret(store().deps, referrer, 'gone', 'issuer'), undefined);
    });

    it('refuses a read the policy did not declare before asking the API server', async () => {
      const s = store({ [ALLOW]: '*:admin' });

      await assert.rejects(
        readReferencedSecret(s.deps, referrer, 'shop-ca', 'admin'),
        /a plug-in read Secret shop\/shop-ca as admin without declaring it in its references/,
      );
      assert.deepEqual(s.gets, []);
    });
  });
});
