/**
 * Kubernetes label selectors: checked when a command's settings are parsed (so that a selector
 * the API server would refuse with 400 is a configuration error naming the setting, see
 * {@link labelSelectorSetting}), and matched client-side by restore against the labels a Secret
 * had when it was backed up (the API server cannot filter a backup). Same syntax and semantics
 * as `kubectl get -l`, i.e. labels.Parse of k8s.io/apimachinery:
 *
 *   app=payments, tier!=cache      equality (also `==`); `!=` also matches when the label is absent
 *   env in (prod,staging)          set membership; `notin` also matches when the label is absent;
 *                                  `env in ()` is the set of the empty value, as for the API server
 *   team, !legacy                  the label exists / does not exist
 *   replicas>2, replicas<5         the label is an integer greater / less than the value
 *
 * Requirements separated by commas must all hold.
 */
import { type Setting, type SettingSpec, ValueError } from '../config/options.js';

export type Requirement =
  | { key: string; op: 'exists' | 'not-exists' }
  | { key: string; op: 'equals' | 'not-equals'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'gt' | 'lt'; value: number };

const KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/)?([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
/** Longest DNS subdomain, the limit of a key's prefix. */
const MAX_PREFIX = 253;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Parses a selector; throws Error with a message naming the bad requirement (selectors are not secret). */
export function parseLabelSelector(text: string): Requirement[] {
  const parts = splitTopLevel(text);
  if (parts.length === 0) throw new Error('the selector is empty');
  return parts.map(parseRequirement);
}

export function matchesSelector(requirements: readonly Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'not-exists':
        return !has;
      case 'equals':
        return has && l[r.key] === r.value;
      case 'not-equals':
        return !has || l[r.key] !== r.value;
      case 'in':
        return has && r.values.includes(l[r.key]);
      case 'notin':
        return !has || !r.values.includes(l[r.key]);
      case 'gt':
      case 'lt': {
        if (!has || !/^[+-]?\d+$/.test(l[r.key])) return false;
        const n = Number(l[r.key]);
        return r.op === 'gt' ? n > r.value : n < r.value;
      }
      default:
        return r satisfies never;
    }
  });
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (depth < 0) throw new Error('unbalanced parentheses');
    if (c === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (depth !== 0) throw new Error('unbalanced parentheses');
  parts.push(current.trim());
  if (parts.length === 1 && parts[0] === '') return [];
  if (parts.some((p) => p === '')) throw new Error('empty requirement (two commas in a row, or a trailing comma)');
  return parts;
}

function parseRequirement(part: string): Requirement {
  const key = (k: string) => {
    if (!KEY.test(k) || k.indexOf('/') > MAX_PREFIX) throw new Error(`"${k}" is not a valid label key`);
    return k;
  };
  const value = (v: string) => {
    if (!VALUE.test(v)) throw new Error(`"${v}" is not a valid label value`);
    return v;
  };
  let m = /^!\s*(\S+)$/.exec(part);
  if (m) return { key: key(m[1]), op: 'not-exists' };
  m = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
  if (m) {
    const values = m[3].split(',').map((v) => v.trim());
    return { key: key(m[1]), op: m[2] as 'in' | 'notin', values: values.map(value) };
  }
  m = /^([^=!<>\s]+)\s*([<>])\s*(\S+)$/.exec(part);
  if (m) {
    if (!/^[+-]?\d+$/.test(m[3]) || !Number.isSafeInteger(Number(m[3])))
      throw new Error(`"${part}": the value of > and < must be an integer`);
    return { key: key(m[1]), op: m[2] === '>' ? 'gt' : 'lt', value: Number(value(m[3])) };
  }
  m = /^([^=!\s]+)\s*(==|!=|=)\s*(\S*)$/.exec(part);
  if (m) return { key: key(m[1]), op: m[2] === '!=' ? 'not-equals' : 'equals', value: value(m[3]) };
  m = /^(\S+)$/.exec(part);
  if (m && !/[=!()<>]/.test(part)) return { key: key(m[1]), op: 'exists' };
  throw new Error(
    `"${part}" is not a requirement (expected key, !key, key=value, key!=value, key in (a,b), key notin (a,b), key>N or key<N)`,
  );
}

/**
 * The `-l, --selector` setting of a command: refused at parse time (configuration error, exit 2,
 * naming the setting) when it is not a label selector the API server accepts.
 */
export function labelSelectorSetting<const O extends Omit<SettingSpec<string>, 'parse' | 'boolean'>>(o: O): O & Setting<string> {
  return {
    valueName: 'SELECTOR',
    ...o,
    parse: (raw: string) => {
      try {
        parseLabelSelector(raw);
      } catch (e) {
        throw new ValueError(`a label selector such as app=web,tier!=cache (${(e as Error).message})`);
      }
      return raw;
    },
  };
}
