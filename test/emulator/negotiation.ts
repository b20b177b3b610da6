/**
 * Output negotiation for GET, list and watch, as k8s.io/apiserver does it for the
 * representations it can convert a response to (the `as`, `g` and `v` parameters of an
 * Accept clause):
 *
 * - `application/json;as=Table;g=meta.k8s.io;v=v1` (or v1beta1): server-side printing
 *   (`kubectl get`), see table.ts;
 * - `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` (or v1beta1): a list
 *   of metadata only (`PartialObjectMetadataList` of `PartialObjectMetadata` items: no data,
 *   spec, status or type), what client-go's metadata client and controller-runtime's
 *   metadata-only caches ask for;
 * - `application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`: one object's metadata
 *   (GET), or watch events carrying metadata only.
 *
 * The clauses are tried in order of their `q` (then as written); the first acceptable one
 * wins, like the real negotiation. As there, which of the two metadata forms was asked for is
 * not checked against the endpoint while negotiating: the conversion fails afterwards with
 * 406 NotAcceptable (`you requested PartialObjectMetadataList, but the requested object is
 * not a list (*core.Secret)`), so a single GET with only the list form (plus a JSON fallback)
 * is refused, not served as JSON. A clause with an unknown `as`, group or version is skipped;
 * when every clause is skipped the answer is 406 `only the following media types are
 * accepted: ...`. Clauses without `as` (JSON, YAML, protobuf, wildcards) all mean the
 * resource itself, served as JSON (the emulator does not encode YAML or protobuf).
 */
import { KubeApiError } from './errors.js';
import type { ResourceType } from './resources.js';

/** What a GET, list or watch is answered with. */
export type OutputForm =
  | { as: 'resource' }
  | { as: 'Table'; apiVersion: string }
  | { as: 'PartialObjectMetadata' | 'PartialObjectMetadataList'; apiVersion: string };

const META_GROUP = 'meta.k8s.io';
const META_VERSIONS = new Set(['v1', 'v1beta1']);
const ACCEPTED = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

interface Clause {
  type: string;
  params: Map<string, string>;
  q: number;
  index: number;
}

function parseAccept(header: string): Clause[] {
  const clauses: Clause[] = [];
  header.split(',').forEach((raw, index) => {
    const [type, ...rest] = raw.split(';').map((s) => s.trim());
    if (!type) return;
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    clauses.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, index });
  });
  return clauses.filter((c) => c.q > 0).sort((a, b) => b.q - a.q || a.index - b.index);
}

function formOf(c: Clause): OutputForm | undefined {
  const as = c.params.get('as');
  if (as === undefined) return { as: 'resource' };
  const g = c.params.get('g');
  const v = c.params.get('v') ?? '';
  if (g !== META_GROUP || !META_VERSIONS.has(v)) return undefined;
  const apiVersion = `${META_GROUP}/${v}`;
  if (as === 'Table') return c.type === 'application/json' ? { as: 'Table', apiVersion } : undefined;
  if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { as, apiVersion };
  return undefined;
}

function notAcceptable(message: string): KubeApiError {
  return new KubeApiError(406, 'NotAcceptable', message);
}

/** The form the Accept header asks for; 406 when no clause is acceptable. No header: the resource. */
export function negotiateOutput(accept: string | undefined): OutputForm {
  if (accept === undefined || accept.trim() === '') return { as: 'resource' };
  for (const clause of parseAccept(accept)) {
    const form = formOf(clause);
    if (form !== undefined) return form;
  }
  throw notAcceptable(`only the following media types are accepted: ${ACCEPTED.join(', ')}`);
}

/** Go's `%T` of the internal object the real server converts (`*core.Secret`, `*apps.DeploymentList`). */
function goType(rt: ResourceType, list: boolean): string {
  const pkg = rt.group === '' ? 'core' : rt.group.split('.')[0];
  return `*${pkg}.${list ? rt.listKind : rt.kind}`;
}

/**
 * Checks the negotiated form against what is being answered (one object, a list, or the
 * objects of watch events) and throws the real server's 406 when they do not fit.
 */
export function checkOutputForm(form: OutputForm, rt: ResourceType, answer: 'object' | 'list' | 'watch'): void {
  if (form.as === 'PartialObjectMetadata' && answer === 'list') {
    throw notAcceptable(`you requested PartialObjectMetadata, but the requested object is a list (${goType(rt, true)})`);
  }
  if (form.as === 'PartialObjectMetadataList' && answer !== 'list') {
    throw notAcceptable(`you requested PartialObjectMetadataList, but the requested object is not a list (${goType(rt, false)})`);
  }
}

/** JSON of an object's metadata as a `PartialObjectMetadata` of `apiVersion` (`meta.k8s.io/v1`). */
export function partialObjectMetadataJson(apiVersion: string, metadata: unknown): string {
  return `{"kind":"PartialObjectMetadata","apiVersion":${JSON.stringify(apiVersion)},"metadata":${JSON.stringify(metadata)}}`;
}
