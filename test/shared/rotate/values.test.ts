import assert from 'node:assert/strict';
import { parsePolicy, type RotationPolicy } from '../../../shared/rotate/policy.js';
import {
  dataSize,
  decodeData,
  encodeData,
  generateValues,
  inputProblems,
  rerenderTemplates,
  sameData,
} from '../../../shared/rotate/values.js';

function policy(text: string): RotationPolicy {
  const r = parsePolicy(text);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}

const ctx = () => ({
  namespace: 'apps',
  secretName: 'db',
  now: new Date(),
  readSecret: async () => undefined,
  register: () => {},
  warn: () => {},
});
const data = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));

const DB_POLICY = `
maxAge: 30d
keys:
  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@db/app" }
  password: { generator: password, length: 20 }
`;

describe('shared/rotate/values', () => {
  it('generates templates from the new values of the same rotation and the unrotated keys', async () => {
    const current = data({ username: 'app', password: 'old-password', DATABASE_URL: 'postgres://app:old-password@db/app' });

    const generated = await generateValues(policy(DB_POLICY), current, ctx());

    assert.deepEqual([...generated.keys()].sort(), ['DATABASE_URL', 'password']);
    const pw = generated.get('password')!.toString();
    assert.notEqual(pw, 'old-password');
    assert.equal(
      generated.get('DATABASE_URL')!.toString(),
      `postgres://app:${encodeURIComponent(pw).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}@db/app`,
    );
  });

  it('re-renders templates when another writer changed a key they read, keeping the generated values', async () => {
    const p = policy(DB_POLICY);
    const pending = await generateValues(p, data({ username: 'app' }), ctx());

    const rendered = await rerenderTemplates(p, data({ username: 'app2' }), pending, ctx());

    assert.ok(rendered.get('password')!.equals(pending.get('password')!));
    assert.match(rendered.get('DATABASE_URL')!.toString(), /^postgres:\/\/app2:/);
  });

  it('reports template inputs the Secret lacks', () => {
    const problems = inputProblems(policy(DB_POLICY), new Set(['password']));

    assert.deepEqual(problems, [
      {
        path: 'keys.DATABASE_URL.template',
        message: 'refers to username, which the Secret does not have and the policy does not generate',
      },
    ]);
    assert.deepEqual(inputProblems(policy(DB_POLICY), new Set(['username'])), []);
  });

  it('names the generator and key when generation fails', async () => {
    const p = policy('maxAge: 1d\nkeys: { tls.crt: { generator: tls, commonName: x, issuer: { secret: missing-ca } } }');

    await assert.rejects(generateValues(p, new Map(), ctx()), /generator tls for key tls.crt: issuer Secret apps\/missing-ca not found/);
  });

  it('encodes, decodes, compares and sizes data', () => {
    const d = data({ b: 'two', a: 'one' });

    assert.deepEqual(encodeData(d), { a: 'b25l', b: 'dHdv' });
    assert.ok(sameData(decodeData(encodeData(d)), d));
    assert.ok(!sameData(d, data({ a: 'one', b: 'TWO' })));
    assert.equal(dataSize(d), 8);
  });
});
