/**
 * Kubernetes label selectors, matched client-side against the labels a Secret had when it was
 * backed up (the API server cannot filter a backup). Same syntax and semantics as
 * `kubectl get -l`:
 *
 *   app=payments, tier!=cache      equality (also `==`); `!=` also matches when the label is absent
 *   env in (prod,staging)          set membership; `notin` also matches when the label is absent
 *   team, !legacy                  the label exists / does not exist
 *
 * Requirements separated by commas must all hold.
 */

export type Requirement =
  | { key: string; op: 'exists' | 'not-exists' }
  | { key: string; op: 'equals' | 'not-equals'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] };

const KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/)?([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
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
    if (!KEY.test(k)) throw new Error(`"${k}" is not a valid label key`);
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
    if (values.length === 1 && values[0] === '') throw new Error(`"${part}": the set of values is empty`);
    return { key: key(m[1]), op: m[2] as 'in' | 'notin', values: values.map(value) };
  }
  m = /^([^=!\s]+)\s*(==|!=|=)\s*(\S*)$/.exec(part);
  if (m) return { key: key(m[1]), op: m[2] === '!=' ? 'not-equals' : 'equals', value: value(m[3]) };
  m = /^(\S+)$/.exec(part);
  if (m && !/[=!()<>]/.test(part)) return { key: key(m[1]), op: 'exists' };
  throw new Error(`"${part}" is not a requirement (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))`);
}
