/**
 * Label and field selectors with the grammar and semantics of
 * k8s.io/apimachinery/pkg/labels and pkg/fields.
 *
 * Label selector: comma-separated requirements, each one of
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`,
 * `key notin (a,b)`, `key>N`, `key<N`. `!=` and `notin` also match objects
 * without the key; `>` and `<` need the label to be an integer. Field selector: `field=value`, `field==value`, `field!=value`
 * joined by commas; `\,` `\=` `\\` escape.
 */
import { badRequest } from './errors.js';
import type { ResourceType } from './resources.js';
import type { KubeObject } from './types.js';
import { getPath, isObject } from './types.js';

type LabelOp = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

/** One parsed label requirement. */
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** A parsed label selector; matches everything when `requirements` is empty. */
export interface LabelSelector {
  requirements: LabelRequirement[];
}

// ------------------------------------------------------------------ label selector parser
// A port of k8s.io/apimachinery/pkg/labels/selector.go (Lexer, Parser, NewRequirement) and the
// label checks of pkg/util/validation/validation.go, so that a selector is accepted or refused
// exactly as kube-apiserver does, with its messages. Notable: `k in ()` and `k notin ()` are
// valid (the set holds the empty string), `k=` matches the empty value, keys and values may be
// `in`/`notin`, values of `>`/`<` must be integers and valid label values (so `k>-1` is refused).

const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
const DNS1123_SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/** validation.RegexError: the message, examples and the regex. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

/** validation.IsQualifiedName. */
function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters');
      if (!DNS1123_SUBDOMAIN.test(prefix))
        errs.push(`prefix part ${regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com')}`);
    }
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME.test(name))
    errs.push(`name part ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

/** validation.IsValidLabelValue. */
function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(value)) errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

/** field.Invalid(path, value, detail).Error(). */
function invalidValue(path: string, value: string, detail: string): string {
  return `${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`;
}

class SelectorSyntaxError extends Error {}

type Tok = 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';
const LITERAL_TOKENS: Record<string, Tok> = {
  ')': ')',
  ',': ',',
  '!': '!',
  '==': '==',
  '=': '=',
  '>': '>',
  in: 'in',
  '<': '<',
  '!=': '!=',
  notin: 'notin',
  '(': '(',
};
const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecial = (ch: string) => '=!(),><'.includes(ch);

/** The Lexer of selector.go: every token of `input`, ending with `eos`. */
function lex(input: string): { tok: Tok; lit: string }[] {
  const items: { tok: Tok; lit: string }[] = [];
  let pos = 0;
  for (;;) {
    while (pos < input.length && isWhitespace(input[pos])) pos++;
    if (pos >= input.length) {
      items.push({ tok: 'eos', lit: '' });
      return items;
    }
    if (isSpecial(input[pos])) {
      // Longest run of special symbols that is a token ("!=", "=="), as scanSpecialSymbol.
      let buffer = '';
      let last: { tok: Tok; lit: string } | undefined;
      while (pos < input.length && isSpecial(input[pos])) {
        buffer += input[pos];
        const tok = LITERAL_TOKENS[buffer];
        if (tok) last = { tok, lit: buffer };
        else if (last) break;
        pos++;
      }
      items.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buffer}'` });
    } else {
      let buffer = '';
      while (pos < input.length && !isSpecial(input[pos]) && !isWhitespace(input[pos])) buffer += input[pos++];
      const tok = LITERAL_TOKENS[buffer];
      items.push({ tok: tok ?? 'id', lit: buffer });
    }
  }
}

/** The Parser of selector.go. `values` context: `in` and `notin` are identifiers. */
class SelectorParser {
  private position = 0;
  constructor(private readonly items: { tok: Tok; lit: string }[]) {}

  private lookahead(values: boolean): [Tok, string] {
    const { tok, lit } = this.items[this.position];
    return [values && (tok === 'in' || tok === 'notin') ? 'id' : tok, lit];
  }

  private consume(values: boolean): [Tok, string] {
    const item = this.lookahead(values);
    this.position++;
    return item;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const [tok, lit] = this.lookahead(true);
      if (tok === 'id' || tok === '!') {
        try {
          requirements.push(this.parseRequirement());
        } catch (e) {
          if (e instanceof SelectorSyntaxError) throw new SelectorSyntaxError(`unable to parse requirement: ${e.message}`);
          throw e;
        }
        const [t, l] = this.consume(true);
        if (t === 'eos') return requirements;
        if (t !== ',') throw new SelectorSyntaxError(`found '${l}', expected: ',' or 'end of string'`);
        const [t2, l2] = this.lookahead(true);
        if (t2 !== 'id' && t2 !== '!') throw new SelectorSyntaxError(`found '${l2}', expected: identifier after ','`);
      } else if (tok === 'eos') {
        return requirements;
      } else {
        throw new SelectorSyntaxError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let [tok, lit] = this.consume(true);
    let op: LabelOp | undefined;
    if (tok === '!') {
      op = '!';
      [tok, lit] = this.consume(true);
    }
    if (tok !== 'id') throw new SelectorSyntaxError(`found '${lit}', expected: identifier`);
    const keyErrors = qualifiedNameErrors(lit);
    if (keyErrors.length > 0) throw new SelectorSyntaxError(invalidValue('<nil>', lit, keyErrors.join('; ')));
    const key = lit;
    const [next] = this.lookahead(true);
    if ((next === 'eos' || next === ',') && op === undefined) op = 'exists';
    if (op !== undefined) return { key, op, values: [] };
    const [opTok, opLit] = this.consume(false);
    const ops: Partial<Record<Tok, LabelOp>> = { in: 'in', notin: 'notin', '=': '=', '==': '=', '!=': '!=', '>': 'gt', '<': 'lt' };
    const parsedOp = ops[opTok];
    if (parsedOp === undefined) throw new SelectorSyntaxError(`found '${opLit}', expected: in, notin, =, ==, !=, gt, lt`);
    const values = [...(parsedOp === 'in' || parsedOp === 'notin' ? this.parseValues() : this.parseExactValue())].sort();
    return newRequirement(key, parsedOp, values);
  }

  private parseValues(): Set<string> {
    const [tok, lit] = this.consume(true);
    if (tok !== '(') throw new SelectorSyntaxError(`found '${lit}' expected: '('`);
    const [next, nextLit] = this.lookahead(true);
    if (next === 'id' || next === ',') {
      const set = this.parseIdentifiersList();
      this.consume(true); // the ')' parseIdentifiersList stopped at
      return set;
    }
    if (next === ')') {
      this.consume(true);
      return new Set(['']);
    }
    throw new SelectorSyntaxError(`found '${nextLit}', expected: ',', ')' or identifier`);
  }

  private parseIdentifiersList(): Set<string> {
    const set = new Set<string>();
    for (;;) {
      const [tok, lit] = this.consume(true);
      if (tok === 'id') {
        set.add(lit);
        const [t2, l2] = this.lookahead(true);
        if (t2 === ',') continue;
        if (t2 === ')') return set;
        throw new SelectorSyntaxError(`found '${l2}', expected: ',' or ')'`);
      }
      if (tok !== ',') throw new SelectorSyntaxError(`found '${lit}', expected: ',', or identifier`);
      if (set.size === 0) set.add('');
      const [t2] = this.lookahead(true);
      if (t2 === ')') {
        set.add('');
        return set;
      }
      if (t2 === ',') {
        this.consume(true);
        set.add('');
      }
    }
  }

  private parseExactValue(): Set<string> {
    const [next] = this.lookahead(true);
    if (next === 'eos' || next === ',') return new Set(['']);
    const [tok, lit] = this.consume(true);
    if (tok === 'id') return new Set([lit]);
    throw new SelectorSyntaxError(`found '${lit}', expected: identifier`);
  }
}

/** NewRequirement's value checks (the key is checked while parsing); all problems, aggregated. */
function newRequirement(key: string, op: LabelOp, values: string[]): LabelRequirement {
  const errs: string[] = [];
  if (op === 'gt' || op === 'lt') {
    values.forEach((v, i) => {
      if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
        errs.push(invalidValue(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
    });
  }
  values.forEach((v, i) => {
    const valueErrors = labelValueErrors(v);
    if (valueErrors.length > 0) errs.push(invalidValue(`values[${i}][${key}]`, v, valueErrors.join('; ')));
  });
  if (errs.length > 0) throw new SelectorSyntaxError(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  return { key, op, values };
}

/**
 * Parses a label selector string as labels.Parse does; throws 400 BadRequest with the parser's
 * message (what kube-apiserver answers) when malformed. Whitespace only selects everything.
 */
export function parseLabelSelector(input: string | undefined | null): LabelSelector {
  if (!input) return { requirements: [] };
  try {
    return { requirements: new SelectorParser(lex(input)).parse() };
  } catch (e) {
    if (e instanceof SelectorSyntaxError) throw badRequest(e.message);
    throw e;
  }
}

function requirementMatches(req: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
      return has && value === req.values[0];
    case '!=':
      return !has || value !== req.values[0];
    case 'in':
      return has && req.values.includes(value);
    case 'notin':
      return !has || !req.values.includes(value);
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value)) return false;
      const left = Number(value);
      const right = Number(req.values[0]);
      return req.op === 'gt' ? left > right : left < right;
    }
  }
}

/** True when `labels` satisfy every requirement. */
export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const map = labels ?? {};
  return selector.requirements.every((req) => requirementMatches(req, map));
}

/**
 * A structured metav1.LabelSelector (`matchLabels` / `matchExpressions`), as in
 * workload specs. Returns undefined for a missing selector (matches nothing).
 */
export function fromStructuredSelector(value: unknown): LabelSelector | undefined {
  if (!isObject(value)) return undefined;
  const requirements: LabelRequirement[] = [];
  if (isObject(value.matchLabels)) {
    for (const [key, v] of Object.entries(value.matchLabels)) requirements.push({ key, op: '=', values: [String(v)] });
  }
  if (Array.isArray(value.matchExpressions)) {
    for (const expr of value.matchExpressions) {
      if (!isObject(expr)) continue;
      const op = String(expr.operator);
      const values = Array.isArray(expr.values) ? expr.values.map(String) : [];
      const mapped: LabelOp = op === 'In' ? 'in' : op === 'NotIn' ? 'notin' : op === 'Exists' ? 'exists' : '!';
      requirements.push({ key: String(expr.key), op: mapped, values });
    }
  }
  return { requirements };
}

/** One parsed field requirement. */
export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** A parsed field selector; matches everything when empty. */
export interface FieldSelector {
  requirements: FieldRequirement[];
}

function splitUnescaped(input: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch === '\\' && i + 1 < input.length) {
      current += ch + input[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Parses a field selector string; throws 400 BadRequest when malformed. */
export function parseFieldSelector(input: string | undefined | null): FieldSelector {
  if (!input || input.trim() === '') return { requirements: [] };
  const requirements = splitUnescaped(input, ',').map((part): FieldRequirement => {
    const m = /^([^=!]+?)(==|=|!=)(.*)$/s.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    return { field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(m[3]) };
  });
  return { requirements };
}

/** Field labels selectable per resource, beyond metadata.name / metadata.namespace. */
const EXTRA_FIELDS: Record<string, readonly string[]> = {
  '/secrets': ['type'],
  '/namespaces': ['status.phase'],
  '/pods': ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  '/events': [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  'events.k8s.io/events': [
    'regarding.kind',
    'regarding.namespace',
    'regarding.name',
    'regarding.uid',
    'regarding.apiVersion',
    'regarding.resourceVersion',
    'regarding.fieldPath',
    'reason',
    'reportingController',
    'type',
  ],
  'batch/jobs': ['status.successful'],
  'apps/replicasets': ['status.replicas'],
};

/**
 * Checks that every field in the selector is selectable for `rt`; throws 400
 * `field label not supported: X` otherwise (the real server's message).
 */
export function checkFieldSelector(rt: ResourceType, selector: FieldSelector): void {
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...(EXTRA_FIELDS[rt.key] ?? [])]);
  for (const req of selector.requirements) {
    if (!allowed.has(req.field)) throw badRequest(`field label not supported: ${req.field}`);
  }
}

function fieldValue(obj: KubeObject, field: string): string {
  const value = getPath(obj, field.split('.'));
  if (field === 'source' && isObject(obj.source)) return String(obj.source.component ?? '');
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** True when `obj` satisfies every field requirement. */
export function matchesFields(selector: FieldSelector, obj: KubeObject): boolean {
  return selector.requirements.every((req) => {
    const actual = fieldValue(obj, req.field);
    return req.op === '=' ? actual === req.value : actual !== req.value;
  });
}

/** The name pinned by `metadata.name=X` (used to authorize list/watch via resourceNames). */
export function pinnedName(selector: FieldSelector): string | undefined {
  const req = selector.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
  return req?.value;
}
