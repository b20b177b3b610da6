import assert from 'node:assert/strict';
import {
  PASSWORD_CLASSES,
  type PasswordSpec,
  passwordAlphabets,
  passwordEntropyBits,
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

  describe('minimum entropy', () => {
    const validate = (o: Record<string, unknown>) => passwordGenerator.validate?.('p', spec(o as Partial<PasswordSpec>));
    const rows: Array<[string, Record<string, unknown>, string | undefined]> = [
      ['the defaults', {}, undefined],
      ['length 20 of all four classes (128.9 bits)', { length: 20 }, undefined],
      [
        'length 8, digits only',
        { length: 8, classes: ['digits'] },
        'gives 26.5 bits of entropy; at least 128 required: raise length to 39 (minEntropyBits cannot go below 64)',
      ],
      [
        'every digit but one excluded (always 99999999)',
        { length: 8, classes: ['digits'], exclude: '012345678' },
        'gives 0.0 bits of entropy; at least 128 required: draw from more characters (classes, symbols, exclude) (minEntropyBits cannot go below 64)',
      ],
      [
        'length 16 without look-alikes',
        { length: 16, exclude: '0O1lI|' },
        'gives 101.1 bits of entropy; at least 128 required: raise length to 21, or accept it explicitly with minEntropyBits: 101',
      ],
      ['length 16 without look-alikes, accepted explicitly', { length: 16, exclude: '0O1lI|', minEntropyBits: 101 }, undefined],
      [
        'an explicit minimum still not met',
        { length: 12, classes: ['lower', 'digits'], minEntropyBits: 64 },
        'gives 61.5 bits of entropy; at least 64 required (minEntropyBits: 64): raise length to 13 (minEntropyBits cannot go below 64)',
      ],
      [
        'a minimum above the default',
        { length: 24, minEntropyBits: 192 },
        'gives 154.9 bits of entropy; at least 192 required (minEntropyBits: 192): raise length to 30, or accept it explicitly with minEntropyBits: 154',
      ],
    ];
    for (const [label, fields, message] of rows) {
      it(`${message === undefined ? 'accepts' : 'refuses'} ${label}`, () => {
        const problems = validate(fields);

        assert.deepEqual(problems, message === undefined ? [] : [{ path: ['length'], message }]);
      });
    }

    it('never lets minEntropyBits go below the floor of 64', () => {
      const parsed = passwordGenerator.schema.safeParse({ generator: 'password', length: 8, classes: ['digits'], minEntropyBits: 63 });

      assert.equal(parsed.success, false);
      assert.equal(parsed.error?.issues[0].message, 'cannot be below 64 bits (the floor)');
      assert.deepEqual(parsed.error?.issues[0].path, ['minEntropyBits']);
    });

    it('suggests a length that is enough, and no shorter one', () => {
      for (const fields of [{ length: 8 }, { length: 10, classes: ['digits'] }, { length: 9, exclude: 'abcdefghijklmnopqrstuvwxy' }]) {
        const s = spec(fields as Partial<PasswordSpec>);
        const suggested = Number(/raise length to (\d+)/.exec(validate(fields)?.[0]?.message ?? '')?.[1]);

        assert.ok(passwordEntropyBits({ ...s, length: suggested }) >= 128, JSON.stringify(fields));
        assert.ok(passwordEntropyBits({ ...s, length: suggested - 1 }) < 128, JSON.stringify(fields));
      }
    });

    // The generator's process, enumerated: one draw per class, the rest from the union, then
    // every permutation; the figure must be -log2 of the likeliest password's probability.
    function enumeratedMinEntropy(alphabets: string[], length: number): number {
      const union = [...new Set(alphabets.join(''))];
      const draws: string[][] = [[]];
      for (let i = 0; i < length; i++) {
        const from = i < alphabets.length ? [...alphabets[i]] : union;
        draws.splice(0, draws.length, ...draws.flatMap((d) => from.map((c) => [...d, c])));
      }
      const perms = (n: number): number[][] =>
        n === 0 ? [[]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, at) => [...p.slice(0, at), n - 1, ...p.slice(at)]));
      const all = perms(length);
      const p = new Map<string, number>();
      for (const d of draws) {
        for (const perm of all) {
          const s = perm.map((i) => d[i]).join('');
          p.set(s, (p.get(s) ?? 0) + 1 / (draws.length * all.length));
        }
      }
      return -Math.log2(Math.max(...p.values()));
    }

    // Below the schema's shortest length, so that every output can be enumerated.
    type Small = Pick<PasswordSpec, 'length' | 'classes' | 'symbols' | 'exclude'>;
    const exact: Array<[string, Small]> = [
      ['one class', { length: 4, classes: ['digits'], exclude: '0123456' }],
      ['two disjoint classes', { length: 4, classes: ['lower', 'digits'], exclude: 'cdefghijklmnopqrstuvwxyz23456789' }],
      [
        'three disjoint classes of different sizes',
        { length: 5, classes: ['lower', 'upper', 'digits'], exclude: 'cdefghijklmnopqrstuvwxyzBCDEFGHIJKLMNOPQRSTUVWXYZ3456789' },
      ],
    ];
    for (const [label, fields] of exact) {
      it(`is the exact min-entropy of the generator's output: ${label}`, () => {
        const s = fields;

        const bits = passwordEntropyBits(s);

        assert.ok(Math.abs(bits - enumeratedMinEntropy([...passwordAlphabets(s).values()], s.length)) < 1e-9, `${bits}`);
      });
    }

    it('never claims more than the output has when classes share characters', () => {
      const s: Small = { length: 4, classes: ['lower', 'symbols'], symbols: 'ab!', exclude: 'cdefghijklmnopqrstuvwxyz' };

      const bits = passwordEntropyBits(s);

      assert.ok(bits <= enumeratedMinEntropy([...passwordAlphabets(s).values()], s.length) + 1e-9, `${bits}`);
      assert.ok(bits > 0);
    });
  });
});
