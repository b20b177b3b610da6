import assert from 'node:assert/strict';
import { isSensitiveField, MIN_REDACTABLE_LENGTH, REDACTED, Redactor } from '../../../shared/log/redactor.js';

describe('shared/log/redactor', () => {
  it('removes a registered value in every form it can take in output', () => {
    const r = new Redactor();
    const value = 'p@ss"w0rd\\with-quotes';
    r.register(value);

    const forms = [
      value,
      JSON.stringify(value).slice(1, -1),
      Buffer.from(value).toString('base64'),
      Buffer.from(value).toString('base64url'),
    ];

    for (const form of forms) {
      assert.equal(r.sanitize(`before ${form} after`), `before ${REDACTED} after`, form);
    }
  });

  it('clear() forgets every registered value, short and long', () => {
    const r = new Redactor();
    const long = 'L'.repeat(80);
    r.register('short-secret');
    r.register(long);

    r.clear();

    assert.equal(r.size, 0);
    assert.equal(r.sanitize(`short-secret ${long}`), `short-secret ${long}`);
    r.register('again-secret');
    assert.equal(r.sanitize('x again-secret'), `x ${REDACTED}`);
  });

  it('registers binary values by their base64 forms', () => {
    const r = new Redactor();
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85]);
    r.register(bytes);

    assert.equal(r.sanitize(`x ${bytes.toString('base64')} y`), `x ${REDACTED} y`);
  });

  it('removes each line of a multi-line value (a PEM key printed line by line)', () => {
    const r = new Redactor();
    const pem = '-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9AgEAAkEA\n-----END KEY-----\n';
    r.register(pem);

    assert.equal(r.sanitize('line: MIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9AgEAAkEA.'), `line: ${REDACTED}.`);
  });

  it('prefers the longest match and handles overlapping and repeated values', () => {
    const r = new Redactor();
    r.register('abcdefgh');
    r.register('abcdefghijkl');

    assert.equal(r.sanitize('abcdefghijkl abcdefgh abcdefghabcdefgh'), `${REDACTED} ${REDACTED} ${REDACTED}${REDACTED}`);
  });

  it('recognises a long value by its first 64 characters, in every form, also when truncated', () => {
    const r = new Redactor();
    const text = `-----BEGIN SECRET-----"${'k'.repeat(100)}"\\${'z'.repeat(200)}`;
    const binary = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 256));
    r.register(text);
    r.register(binary);

    const forms = [
      text,
      JSON.stringify(text).slice(1, -1),
      Buffer.from(text).toString('base64'),
      binary.toString('base64'),
      binary.toString('base64url'),
    ];
    for (const form of forms) {
      assert.equal(r.sanitize(`a ${form} b`), `a ${REDACTED} b`, form.slice(0, 20));
      assert.equal(r.sanitize(`cut: ${form.slice(0, 100)}`), `cut: ${REDACTED}`, `truncated ${form.slice(0, 20)}`);
    }
    assert.equal(r.sanitize(`a ${binary.toString('base64').slice(1, 200)} b`).includes(REDACTED), false, 'not from the middle');
  });

  it('does not register values too short to tell apart from ordinary text', () => {
    const r = new Redactor();
    r.register('x'.repeat(MIN_REDACTABLE_LENGTH - 1));

    assert.equal(r.size, 0);
    assert.equal(r.sanitize('xxxxx counts stay readable'), 'xxxxx counts stay readable');
  });

  it('keeps no plaintext of registered values, only numbers', () => {
    const r = new Redactor();
    r.register('very-secret-canary-value');

    const kept: unknown[] = [];
    const collect = (v: unknown): void => {
      if (v instanceof Map) for (const [k, x] of v) collect(k), collect(x);
      else if (v instanceof Set || Array.isArray(v) || ArrayBuffer.isView(v)) for (const x of v as Iterable<unknown>) collect(x);
      else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) collect(x);
      else kept.push(v);
    };
    for (const field of Object.values(r)) collect(field);

    assert.ok(kept.length > 0);
    assert.deepEqual(
      kept.filter((v) => typeof v !== 'number'),
      [],
    );
  });

  it('replaces sensitive fields by name, deeply, but keeps counts and names readable', () => {
    const r = new Redactor();

    const out = r.sanitizeValue({
      password: 'a',
      nested: { privateKey: 'b', secret_access_key: 'c', list: [{ token: 'd' }] },
      secrets: 42,
      secretName: 'db-creds',
      data: { k: 'v' },
    });

    assert.deepEqual(out, {
      password: REDACTED,
      nested: { privateKey: REDACTED, secret_access_key: REDACTED, list: [{ token: REDACTED }] },
      secrets: 42,
      secretName: 'db-creds',
      data: REDACTED,
    });
    assert.equal(isSensitiveField('Authorization'), true);
    assert.equal(isSensitiveField('namespace'), false);
  });

  it('scans a line once per character even with many registered values sharing a prefix', () => {
    const r = new Redactor();
    for (let i = 0; i < 50_000; i++) r.register(`value-${i}-${'z'.repeat(10)}`);
    for (let i = 0; i < 50_000; i++) r.register(`other-${i}-${'q'.repeat(i % 40)}`);

    const line = `{"msg":"rotated","fingerprint":"abc","note":"value-49999-${'z'.repeat(10)}"}`;

    assert.equal(r.size >= 200_000, true);
    assert.equal(r.sanitize(line), `{"msg":"rotated","fingerprint":"abc","note":"${REDACTED}"}`);
  });

  it('removes a value registered among 200,000 others in every form, short and long', () => {
    const r = new Redactor();
    const short = 'needle-"quoted"\\value';
    const long = Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 31 + 7) % 256));
    for (let i = 0; i < 100_000; i++) r.register(`hay-${i}-${(i * 2654435761) % 1_000_003}`);
    r.register(short);
    r.register(long);
    for (let i = 0; i < 100_000; i++) r.register(Buffer.from(`bin-${i}-${'x'.repeat(i % 70)}`));

    const forms = [
      short,
      JSON.stringify(short).slice(1, -1),
      Buffer.from(short).toString('base64'),
      Buffer.from(short).toString('base64url'),
      long.toString('base64'),
      long.toString('base64url'),
    ];

    assert.ok(r.size > 200_000, `${r.size} patterns`);
    for (const form of forms) assert.equal(r.sanitize(`[${form}]`), `[${REDACTED}]`, form.slice(0, 20));
    assert.equal(r.sanitize('needle-"quoted" is not the value'), 'needle-"quoted" is not the value');
  });

  it('keeps every earlier pattern as its tables grow', () => {
    const r = new Redactor();
    const values = Array.from({ length: 5_000 }, (_, i) => `grow-${i}-${'k'.repeat(i % 90)}`);
    const lost = (upTo: number): string[] => values.slice(0, upTo).filter((v) => r.sanitize(` ${v} `) !== ` ${REDACTED} `);

    const checked: number[] = [];
    for (let i = 0; i < values.length; i++) {
      r.register(values[i]);
      // After every doubling of the pattern count, each value registered so far is still removed.
      if ((i & (i + 1)) === 0) {
        checked.push(i + 1);
        assert.deepEqual(lost(i + 1), [], `after ${i + 1} values`);
      }
    }

    assert.equal(checked.length, 13);
    assert.deepEqual(lost(values.length), []);
  });
});
