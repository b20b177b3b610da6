import assert from 'node:assert/strict';
import { type TokenSpec, tokenGenerator } from '../../../../shared/rotate/generators/token.js';
import { uuidGenerator } from '../../../../shared/rotate/generators/uuid.js';
import { testContext, wasRegistered } from './context.js';

const spec = (o: Partial<TokenSpec> = {}): TokenSpec => tokenGenerator.schema.parse({ generator: 'token', ...o });

describe('shared/rotate/generators/token', () => {
  const rows: Array<[Partial<TokenSpec>, RegExp, (s: string) => Buffer]> = [
    [{}, /^[A-Za-z0-9_-]{43}$/, (s) => Buffer.from(s, 'base64url')],
    [{ bytes: 16, encoding: 'hex' }, /^[0-9a-f]{32}$/, (s) => Buffer.from(s, 'hex')],
    [{ bytes: 32, encoding: 'base64' }, /^[A-Za-z0-9+/]{43}=$/, (s) => Buffer.from(s, 'base64')],
    [{ bytes: 24, encoding: 'base64url', prefix: 'sk_live_' }, /^sk_live_[A-Za-z0-9_-]{32}$/, (s) => Buffer.from(s.slice(8), 'base64url')],
  ];
  for (const [fields, shape, decode] of rows) {
    it(`makes ${JSON.stringify(fields)} tokens of the right shape and entropy`, async () => {
      const s = spec(fields);
      const ctx = testContext('api-token');

      const value = (await tokenGenerator.generate(s, ctx)).get('api-token')!;

      assert.match(value.toString(), shape);
      assert.equal(decode(value.toString()).length, s.bytes);
      assert.ok(wasRegistered(ctx.registered, value));
    });
  }

  const strength: Array<[Partial<TokenSpec>, string | undefined]> = [
    [{}, undefined],
    [{ bytes: 16 }, undefined],
    [
      { bytes: 15, prefix: 'sk_live_', encoding: 'hex' },
      'gives 120.0 bits of entropy; at least 128 required: raise bytes to 16, or accept it explicitly with minEntropyBits: 120',
    ],
    [{ bytes: 8 }, 'gives 64.0 bits of entropy; at least 128 required: raise bytes to 16, or accept it explicitly with minEntropyBits: 64'],
    [{ bytes: 8, minEntropyBits: 64 }, undefined],
    [
      { bytes: 32, minEntropyBits: 512 },
      'gives 256.0 bits of entropy; at least 512 required (minEntropyBits: 512): raise bytes to 64, or accept it explicitly with minEntropyBits: 256',
    ],
  ];
  for (const [fields, message] of strength) {
    it(`${message === undefined ? 'accepts' : 'refuses'} ${JSON.stringify(fields)} by its entropy (8 bits a byte, none from the prefix)`, () => {
      const problems = tokenGenerator.validate?.('t', spec(fields));

      assert.deepEqual(problems, message === undefined ? [] : [{ path: ['bytes'], message }]);
    });
  }

  it('never lets minEntropyBits go below the floor of 64', () => {
    const parsed = tokenGenerator.schema.safeParse({ generator: 'token', bytes: 8, minEntropyBits: 56 });

    assert.equal(parsed.success, false);
    assert.equal(parsed.error?.issues[0].message, 'cannot be below 64 bits (the floor)');
  });

  it('never repeats a token', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add((await tokenGenerator.generate(spec({ bytes: 8 }), testContext('t'))).get('t')!.toString());

    assert.equal(seen.size, 1000);
  });
});

describe('shared/rotate/generators/uuid', () => {
  it('makes version-4 UUIDs', async () => {
    const ctx = testContext('id');

    const value = (await uuidGenerator.generate({ generator: 'uuid' }, ctx)).get('id')!.toString();

    assert.match(value, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(wasRegistered(ctx.registered, Buffer.from(value)));
  });
});
