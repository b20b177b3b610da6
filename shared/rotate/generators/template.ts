import { z } from 'zod';
import type { Generator, SpecProblem } from './generator.js';

/** Filters a placeholder may apply: `{{ password | urlencode }}`. */
const FILTERS: Record<string, (text: string) => string> = {
  /** Percent-encodes everything but unreserved characters (RFC 3986), for URLs and DSNs. */
  urlencode: (t) => encodeURIComponent(t).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  base64: (t) => Buffer.from(t, 'utf8').toString('base64'),
  base64url: (t) => Buffer.from(t, 'utf8').toString('base64url'),
  /** A JSON string literal without the quotes. */
  json: (t) => JSON.stringify(t).slice(1, -1),
};

export const TEMPLATE_FILTERS = Object.keys(FILTERS);

interface Placeholder {
  key: string;
  filters: string[];
  start: number;
  end: number;
}

const PLACEHOLDER = /\{\{\s*([-._a-zA-Z0-9]+)\s*((?:\|\s*[a-z0-9]+\s*)*)\}\}/g;

/** Placeholders of a template, or a problem when the syntax is wrong. */
export function parseTemplate(template: string): { placeholders: Placeholder[] } | { problem: string } {
  const placeholders: Placeholder[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const between = template.slice(last, m.index);
    if (between.includes('{{'))
      return {
        problem: `malformed placeholder near "${between.slice(between.indexOf('{{'), between.indexOf('{{') + 20)}" (expected {{ key }} or {{ key | filter }})`,
      };
    const filters = m[2]
      .split('|')
      .map((f) => f.trim())
      .filter((f) => f !== '');
    for (const f of filters) if (!(f in FILTERS)) return { problem: `unknown filter "${f}" (known: ${TEMPLATE_FILTERS.join(', ')})` };
    placeholders.push({ key: m[1], filters, start: m.index, end: m.index + m[0].length });
    last = m.index + m[0].length;
  }
  if (template.slice(last).includes('{{'))
    return { problem: 'malformed or unterminated placeholder (expected {{ key }} or {{ key | filter }})' };
  return { placeholders };
}

const schema = z.strictObject({
  generator: z.literal('template'),
  /** Text with `{{ key }}` placeholders, e.g. `postgres://app:{{ password | urlencode }}@db:5432/app`. */
  template: z.string().min(1).max(65536),
});

export type TemplateSpec = z.infer<typeof schema>;

/**
 * A value built from other keys of the same Secret: keys rotated in the same run (their new
 * values) and keys left alone (their current values). Rendered after every key it reads,
 * so a `DATABASE_URL` always embeds the password written in the same update.
 */
export const templateGenerator: Generator<TemplateSpec> = {
  name: 'template',
  summary: 'text built from other keys ({{ key }}, filters: urlencode, base64, base64url, json)',
  schema,
  extraOutputs: () => [],
  inputs(spec) {
    const parsed = parseTemplate(spec.template);
    return 'problem' in parsed ? [] : [...new Set(parsed.placeholders.map((p) => p.key))];
  },
  validate(key, spec) {
    const problems: SpecProblem[] = [];
    const parsed = parseTemplate(spec.template);
    if ('problem' in parsed) problems.push({ path: ['template'], message: parsed.problem });
    else if (parsed.placeholders.some((p) => p.key === key)) problems.push({ path: ['template'], message: `refers to its own key ${key}` });
    return problems;
  },
  async generate(spec, ctx) {
    const parsed = parseTemplate(spec.template);
    if ('problem' in parsed) throw new Error(parsed.problem);
    let out = '';
    let last = 0;
    for (const p of parsed.placeholders) {
      const bytes = ctx.values.get(p.key);
      if (bytes === undefined)
        throw new Error(`placeholder {{ ${p.key} }}: the Secret has no key ${p.key} and the policy does not generate it`);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new Error(`placeholder {{ ${p.key} }}: the value is not UTF-8 text`);
      }
      for (const f of p.filters) text = FILTERS[f](text);
      out += spec.template.slice(last, p.start) + text;
      last = p.end;
    }
    out += spec.template.slice(last);
    ctx.register(out);
    return new Map([[ctx.key, Buffer.from(out, 'utf8')]]);
  },
};
