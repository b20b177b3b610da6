/**
 * Minimal decoding of Kubernetes protobuf request bodies
 * (`application/vnd.kubernetes.protobuf`), which kubectl's typed clients send
 * (`kubectl create secret|configmap|namespace`, `kubectl auth can-i|whoami`).
 * Only the kinds listed in SCHEMAS are understood; the server answers 415 for
 * others. Responses are always JSON (those clients accept it).
 *
 * Wire format: magic "k8s\0", then a runtime.Unknown message {1: typeMeta
 * {1: apiVersion, 2: kind}, 2: raw (the object's own message)}. Field numbers
 * below come from k8s.io/api's generated.proto files.
 */

type FieldType =
  | 'string'
  | 'bytes'
  | 'int'
  | 'bool'
  | 'time'
  | 'map<string,string>'
  | 'map<string,bytes>'
  | 'strings'
  | { message: string; repeated?: boolean };

interface FieldDef {
  name: string;
  type: FieldType;
}

type MessageDef = Record<number, FieldDef>;

const f = (name: string, type: FieldType): FieldDef => ({ name, type });

const SCHEMAS: Record<string, MessageDef> = {
  TypeMeta: { 1: f('apiVersion', 'string'), 2: f('kind', 'string') },
  Unknown: {
    1: f('typeMeta', { message: 'TypeMeta' }),
    2: f('raw', 'bytes'),
    3: f('contentEncoding', 'string'),
    4: f('contentType', 'string'),
  },
  ObjectMeta: {
    1: f('name', 'string'),
    2: f('generateName', 'string'),
    3: f('namespace', 'string'),
    5: f('uid', 'string'),
    6: f('resourceVersion', 'string'),
    7: f('generation', 'int'),
    11: f('labels', 'map<string,string>'),
    12: f('annotations', 'map<string,string>'),
    13: f('ownerReferences', { message: 'OwnerReference', repeated: true }),
    14: f('finalizers', 'strings'),
  },
  OwnerReference: {
    1: f('kind', 'string'),
    3: f('name', 'string'),
    4: f('uid', 'string'),
    5: f('apiVersion', 'string'),
    6: f('controller', 'bool'),
    7: f('blockOwnerDeletion', 'bool'),
  },
  Secret: {
    1: f('metadata', { message: 'ObjectMeta' }),
    2: f('data', 'map<string,bytes>'),
    3: f('type', 'string'),
    4: f('stringData', 'map<string,string>'),
    5: f('immutable', 'bool'),
  },
  ConfigMap: {
    1: f('metadata', { message: 'ObjectMeta' }),
    2: f('data', 'map<string,string>'),
    3: f('binaryData', 'map<string,bytes>'),
    4: f('immutable', 'bool'),
  },
  Namespace: { 1: f('metadata', { message: 'ObjectMeta' }), 2: f('spec', { message: 'NamespaceSpec' }) },
  NamespaceSpec: { 1: f('finalizers', 'strings') },
  SelfSubjectAccessReview: { 1: f('metadata', { message: 'ObjectMeta' }), 2: f('spec', { message: 'SelfSubjectAccessReviewSpec' }) },
  SelfSubjectAccessReviewSpec: {
    1: f('resourceAttributes', { message: 'ResourceAttributes' }),
    2: f('nonResourceAttributes', { message: 'NonResourceAttributes' }),
  },
  ResourceAttributes: {
    1: f('namespace', 'string'),
    2: f('verb', 'string'),
    3: f('group', 'string'),
    4: f('version', 'string'),
    5: f('resource', 'string'),
    6: f('subresource', 'string'),
    7: f('name', 'string'),
  },
  NonResourceAttributes: { 1: f('path', 'string'), 2: f('verb', 'string') },
  SelfSubjectRulesReview: { 1: f('metadata', { message: 'ObjectMeta' }), 2: f('spec', { message: 'SelfSubjectRulesReviewSpec' }) },
  SelfSubjectRulesReviewSpec: { 1: f('namespace', 'string') },
  SelfSubjectReview: { 1: f('metadata', { message: 'ObjectMeta' }) },
};

/** Kinds whose protobuf bodies the server decodes. */
export const PROTOBUF_KINDS = new Set([
  'Secret',
  'ConfigMap',
  'Namespace',
  'SelfSubjectAccessReview',
  'SelfSubjectRulesReview',
  'SelfSubjectReview',
]);

interface RawField {
  num: number;
  wire: number;
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function readFields(buf: Buffer): RawField[] {
  const fields: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    pos = afterKey;
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, next] = readVarint(buf, pos);
      fields.push({ num, wire, value: v });
      pos = next;
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, pos);
      const end = next + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      fields.push({ num, wire, value: buf.subarray(next, end) });
      pos = end;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return fields;
}

function mapEntry(buf: Buffer, valueAsBytes: boolean): [string, string] {
  let key = '';
  let value = '';
  for (const field of readFields(buf)) {
    const data = field.value as Buffer;
    if (field.num === 1) key = data.toString('utf8');
    if (field.num === 2) value = valueAsBytes ? data.toString('base64') : data.toString('utf8');
  }
  return [key, value];
}

/** Decodes one message into JSON using its schema; unknown fields are skipped. */
function decodeMessage(buf: Buffer, schema: string): Record<string, unknown> {
  const def = SCHEMAS[schema];
  const out: Record<string, unknown> = {};
  for (const field of readFields(buf)) {
    const fd = def[field.num];
    if (!fd) continue;
    const t = fd.type;
    if (typeof t === 'object') {
      const decoded = decodeMessage(field.value as Buffer, t.message);
      if (t.repeated) out[fd.name] = [...((out[fd.name] as unknown[]) ?? []), decoded];
      else out[fd.name] = decoded;
    } else if (t === 'string') out[fd.name] = (field.value as Buffer).toString('utf8');
    else if (t === 'bytes') out[fd.name] = field.value as Buffer;
    else if (t === 'int') out[fd.name] = Number(field.value as bigint);
    else if (t === 'bool') out[fd.name] = (field.value as bigint) !== 0n;
    else if (t === 'strings') out[fd.name] = [...((out[fd.name] as string[]) ?? []), (field.value as Buffer).toString('utf8')];
    else {
      const [k, v] = mapEntry(field.value as Buffer, t === 'map<string,bytes>');
      out[fd.name] = { ...((out[fd.name] as Record<string, string>) ?? {}), [k]: v };
    }
  }
  return out;
}

/**
 * Decodes a protobuf request body into the JSON object it represents; returns
 * undefined when the kind is not supported.
 */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new Error('missing protobuf envelope magic');
  const unknown = decodeMessage(body.subarray(4), 'Unknown');
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const kind = typeMeta.kind ?? '';
  if (!PROTOBUF_KINDS.has(kind)) return undefined;
  const obj = decodeMessage((unknown.raw as Buffer) ?? Buffer.alloc(0), kind);
  return { apiVersion: typeMeta.apiVersion, kind, ...obj };
}
