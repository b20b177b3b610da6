import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { BackendRegistry } from '../../../shared/rotate/backend.js';
import { SHIPPED_BACKENDS } from '../../../shared/rotate/backends/index.js';
import { parsePolicy } from '../../../shared/rotate/policy.js';
import {
  ROTATION_POLICY_SCHEMA_ID,
  ROTATION_POLICY_SCHEMA_PATH,
  rotationPolicyJsonSchema,
  rotationPolicyJsonSchemaText,
} from '../../../shared/rotate/policy-schema.js';
import { markdownFiles } from '../../tooling/markdown-links.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BACKENDS = new BackendRegistry(SHIPPED_BACKENDS);
const ANNOTATION = 'secret-steward.io/rotation';

interface Example {
  where: string;
  text: string;
  /** Set when the annotation is written in a form this test does not read. */
  unread?: string;
}

/**
 * Every rotation policy example of a Markdown file: the value of each `secret-steward.io/rotation`
 * annotation in its code blocks, written as a YAML block scalar (`secret-steward.io/rotation: |`
 * and the lines indented under it), an inline YAML value, or a shell argument
 * (`secret-steward.io/rotation='...'`). An annotation given a value (`:` or `=`) in a form that
 * is none of these is returned as unread and fails, so an example cannot be skipped unseen.
 */
function policyExamples(file: string, text: string): Example[] {
  const lines = text.split('\n');
  const examples: Example[] = [];
  let inCode = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      inCode = !inCode;
      continue;
    }
    if (!inCode || !/secret-steward\.io\/rotation\s*[:=]/.test(line)) continue;
    const where = `${file}:${i + 1}`;
    const block = /^(\s*)secret-steward\.io\/rotation:\s*\|[-+]?\s*$/.exec(line);
    const inline = /^\s*secret-steward\.io\/rotation:\s*(\S.*)$/.exec(line);
    const shell = /secret-steward\.io\/rotation='([^']*)'/.exec(line);
    if (block) {
      const body: string[] = [];
      for (let j = i + 1; j < lines.length && !/^\s*```/.test(lines[j]); j++) {
        if (lines[j].trim() !== '' && lines[j].search(/\S/) <= block[1].length) break;
        body.push(lines[j]);
      }
      const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.search(/\S/)));
      examples.push({ where, text: body.map((l) => l.slice(indent)).join('\n') });
    } else if (shell) {
      examples.push({ where, text: shell[1] });
    } else if (inline) {
      const value: unknown = parseYaml(`v: ${inline[1]}`).v;
      examples.push({ where, text: typeof value === 'string' ? value : JSON.stringify(value) });
    } else {
      examples.push({ where, text: '', unread: line.trim() });
    }
  }
  return examples;
}

describe('shared/rotate/policy-schema (the published JSON Schema of the rotation policy)', () => {
  const ajv = new Ajv2020({ allErrors: true });
  const validate = ajv.compile(rotationPolicyJsonSchema());

  /** The schema's verdict on a policy text (YAML or JSON, as in the annotation). */
  const schemaErrors = (text: string) =>
    validate(parseYaml(text)) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

  it(`${ROTATION_POLICY_SCHEMA_PATH} is what the code generates`, () => {
    const committed = readFileSync(join(ROOT, ROTATION_POLICY_SCHEMA_PATH), 'utf8');

    assert.ok(
      committed === rotationPolicyJsonSchemaText(),
      `${ROTATION_POLICY_SCHEMA_PATH} is out of date: run npm run docs:cli and commit it`,
    );
  });

  it('names its dialect and its identifier, and docs/rotation.md refers to it', () => {
    const schema = rotationPolicyJsonSchema();
    const guide = readFileSync(join(ROOT, 'docs', 'rotation.md'), 'utf8');

    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$id, ROTATION_POLICY_SCHEMA_ID);
    assert.ok(guide.includes('](rotation-policy.schema.json)'), 'docs/rotation.md links the schema');
  });

  describe('every rotation policy example in README and docs', () => {
    const examples = markdownFiles(ROOT)
      .filter((f) => f === 'README.md' || f.startsWith('docs'))
      .flatMap((f) => policyExamples(f, readFileSync(join(ROOT, f), 'utf8')));

    it('there are examples to check (docs/rotation.md and docs/cli/rotate.md have them)', () => {
      const files = new Set(examples.map((e) => e.where.split(':')[0]));

      assert.ok(files.has(join('docs', 'rotation.md')) && files.has(join('docs', 'cli', 'rotate.md')), [...files].join(', '));
    });

    for (const e of examples) {
      it(`${e.where} validates against the JSON Schema and parses with parsePolicy`, () => {
        assert.equal(e.unread, undefined, `the ${ANNOTATION} annotation in a form this test does not read`);

        const parsed = parsePolicy(e.text, BACKENDS);

        assert.deepEqual(schemaErrors(e.text), []);
        assert.ok('policy' in parsed, JSON.stringify(parsed));
      });
    }
  });

  describe('what it refuses, parsePolicy refuses too', () => {
    const refused: [string, string][] = [
      ['an unknown field', 'maxAge: 30d\nkeys: { password: password }\nlenght: 3'],
      ['an unknown generator', 'maxAge: 30d\nkeys: { password: passwd }'],
      ['an unknown generator field', 'maxAge: 30d\nkeys: { password: { generator: password, lenght: 40 } }'],
      ['a password too short for the generator', 'maxAge: 30d\nkeys: { password: { generator: password, length: 4 } }'],
      ['an unknown strategy', 'maxAge: 30d\nstrategy: sideways\nkeys: { password: password }'],
      ['an unknown backend', 'maxAge: 30d\nkeys: { password: password }\nbackend: { name: oracle }'],
      ['an unknown mysql field', 'maxAge: 30d\nkeys: { password: password }\nbackend: { name: mysql, sslmode: prefer }'],
      ['an unknown postgresql field', 'maxAge: 30d\nkeys: { password: password }\nbackend: { name: postgresql, hots: db }'],
      ['keys that is not a mapping', 'maxAge: 30d\nkeys: [password]'],
    ];
    for (const [name, text] of refused) {
      it(name, () => {
        assert.notDeepEqual(schemaErrors(text), []);
        assert.ok('problems' in parsePolicy(text, BACKENDS));
      });
    }

    it('while some of what parsePolicy refuses passes the schema, as its description says (schedule and maxAge together)', () => {
      const text = 'schedule: "0 3 * * *"\nmaxAge: 30d\nkeys: { password: password }';
      const description = rotationPolicyJsonSchema().description as string;

      assert.deepEqual(schemaErrors(text), []);
      assert.ok('problems' in parsePolicy(text, BACKENDS));
      assert.match(description, /exactly one of schedule and maxAge/);
    });

    it('a DNS name in capitals passes both (a pattern in the schema carries no regex flags)', () => {
      const text = 'maxAge: 30d\nkeys: { tls.crt: { generator: tls, dnsNames: [API.Example.com] } }';

      assert.deepEqual(schemaErrors(text), []);
      assert.ok('policy' in parsePolicy(text, BACKENDS), JSON.stringify(parsePolicy(text, BACKENDS)));
    });
  });
});
