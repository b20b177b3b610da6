import assert from 'node:assert/strict';
import {
  PASSWORD_CLASSES,
  type PasswordSpec,
  passwordAlphabets,
  passwordGenerator,
} from '../../../../shared/rotate/generators/password.js';
import { testContext, wasRegistered } from './context.js';

const spec = (o: Partial<PasswordSpec> = {}): PasswordSpec => passwordGenerator.schema.parse({ generator: 'password', ...o });

async function generate(s: PasswordSpec): Promise<string> {
  const ctx = testContext('password');
  const value = (await passwordGenerator.generate(s, ctx)).get('password')!;
  assert.ok(wasRegistered(ctx.registered, value), 'registered with the redactor');
  return value.toString('utf8');
}

describe('shared/rotate/generators/password', () => {
  const rows: Array<[string, Partial<PasswordSpec>]> = [
    ['defaults', {}],
    ['the shortest allowed', { length: 8 }],
    ['two classes', { length: 12, classes: ['lower', 'digits'] }],
    ['look-alikes excluded', { length: 16, exclude: '0O1lI|' }],
    ['a custom symbol set', { length: 20, symbols: '-_.' }],
    ['as many classes as characters', { length: 8, classes: ['lower', 'upper', 'digits', 'symbols'] }],
  ];
  for (const [label, fields] of rows) {
    it(`has the requested shape with ${label}, every required class present (200 samples)`, async () => {
      const s = spec(fields);
      const alphabets = passwordAlphabets(s);
      const allowed = new Set([...alphabets.values()].join(''));

      for (let i = 0; i < 200; i++) {
        const pw = await generate(s);

        assert.equal(pw.length, s.length);
        for (const c of pw) assert.ok(allowed.has(c), `unexpected character ${JSON.stringify(c)}`);
        for (const [cls, alphabet] of alphabets)
          assert.ok(
            [...pw].some((c) => alphabet.includes(c)),
            `class ${cls} missing in a sample`,
          );
        for (const c of s.exclude) assert.ok(!pw.includes(c), `excluded ${c} present`);
      }
    });
  }

  it('uses each character of the alphabet about equally often', async () => {
    const s = spec({ length: 1000, classes: ['digits'] });
    const counts = new Map<string, number>();

    for (let i = 0; i < 20; i++) for (const c of await generate(s)) counts.set(c, (counts.get(c) ?? 0) + 1);

    for (const d of PASSWORD_CLASSES.digits) {
      const n = counts.get(d) ?? 0;
      assert.ok(n > 1600 && n < 2400, `digit ${d} seen ${n} times of 20000`);
    }
  });

  it('never repeats a value', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(await generate(spec({ length: 16 })));

    assert.equal(seen.size, 500);
  });

  it('rejects specs that cannot be satisfied', () => {
    assert.deepEqual(passwordGenerator.validate?.('p', spec({ classes: ['digits'], exclude: '0123456789' })), [
      { path: ['exclude'], message: 'excludes every character of class digits' },
    ]);
    assert.deepEqual(passwordGenerator.validate?.('p', spec({ symbols: 'a b' })), [
      { path: ['symbols'], message: 'must not contain whitespace' },
    ]);
  });
});
