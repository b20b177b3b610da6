import assert from 'node:assert/strict';
import { parseTemplate, templateGenerator } from '../../../../shared/rotate/generators/template.js';
import { testContext, wasRegistered } from './context.js';

async function render(template: string, values: Record<string, string>): Promise<string> {
  const ctx = testContext('out', { values });
  const out = (await templateGenerator.generate({ generator: 'template', template }, ctx)).get('out')!;
  assert.ok(wasRegistered(ctx.registered, out));
  return out.toString();
}

describe('shared/rotate/generators/template', () => {
  const rows: Array<[string, Record<string, string>, string]> = [
    [
      'postgres://{{ username }}:{{ password | urlencode }}@db:5432/app',
      { username: 'app', password: "p@ss/w:rd?#!'()*" },
      'postgres://app:p%40ss%2Fw%3Ard%3F%23%21%27%28%29%2A@db:5432/app',
    ],
    ['{{password}}', { password: 'x' }, 'x'],
    ['{"token":"{{ t | json }}"}', { t: 'a"b\\c' }, '{"token":"a\\"b\\\\c"}'],
    ['Basic {{ creds | base64 }}', { creds: 'user:pass' }, 'Basic dXNlcjpwYXNz'],
    ['{{ a | base64url }}', { a: '\u00ff\u00fe' }, Buffer.from('\u00ff\u00fe').toString('base64url')],
    ['no placeholders at all', {}, 'no placeholders at all'],
    ['{{ tls.crt }}', { 'tls.crt': 'PEM' }, 'PEM'],
  ];
  for (const [template, values, expected] of rows) {
    it(`renders ${template}`, async () => {
      assert.equal(await render(template, values), expected);
    });
  }

  it('lists the keys it reads', () => {
    assert.deepEqual(templateGenerator.inputs({ generator: 'template', template: '{{ a }}{{ b | urlencode }}{{ a }}' }), ['a', 'b']);
  });

  const badSyntax: Array<[string, RegExp]> = [
    ['{{ a | upper }}', /unknown filter "upper"/],
    ['{{ a b }}', /malformed/],
    ['{{ a', /unterminated/],
  ];
  for (const [template, problem] of badSyntax) {
    it(`rejects ${template}`, () => {
      const parsed = parseTemplate(template);

      assert.ok('problem' in parsed);
      assert.match(parsed.problem, problem);
    });
  }

  it('fails clearly on a missing key or a binary value', async () => {
    await assert.rejects(render('{{ missing }}', {}), /the Secret has no key missing/);
    const ctx = testContext('out');
    (ctx.values as Map<string, Buffer>).set('bin', Buffer.from([0xff, 0xfe, 0xfd]));
    await assert.rejects(templateGenerator.generate({ generator: 'template', template: '{{ bin }}' }, ctx), /not UTF-8 text/);
  });

  it('refuses to read its own key', () => {
    assert.deepEqual(templateGenerator.validate?.('url', { generator: 'template', template: '{{ url }}' }), [
      { path: ['template'], message: 'refers to its own key url' },
    ]);
  });
});
