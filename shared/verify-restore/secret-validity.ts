/**
 * Is a Secret from a backup a valid object that the API server will accept, and is its
 * content usable for its type? Offline checks, no API call:
 *
 * - names: namespace a DNS-1123 label, name a DNS-1123 subdomain;
 * - data: keys valid ConfigMap/Secret keys, values valid base64, total decoded size within the
 *   API's 1 MiB; labels and annotations valid (keys, values, 256 KiB of annotations);
 * - type: the keys the API requires for the type (tls.crt/tls.key, .dockerconfigjson,
 *   .dockercfg, username or password for basic-auth, ssh-privatekey) and, beyond what the API
 *   checks, that the content is usable: tls.crt parses as PEM X.509 certificates, tls.key as a
 *   PEM private key that belongs to the first certificate, docker configs parse as JSON objects.
 *
 * Problems are `invalid` (the API would reject the object: a restore of it fails) or `content`
 * (the API accepts it, but the value is broken for its type). Messages name keys, never values.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { ExportedSecret } from '../backup/secret-export.js';
import { dataKeyProblem, isDnsLabel, isDnsSubdomain, qualifiedNameProblem } from '../kube/object-names.js';

export const MAX_SECRET_DATA_BYTES = 1024 * 1024;
const MAX_ANNOTATION_BYTES = 256 * 1024;

/** The base64 alphabet (RFC 4648 section 4, not base64url), by character code. */
const BASE64_CHARS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_CHARS[c.charCodeAt(0)] = 1;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export interface ValidityProblem {
  severity: 'invalid' | 'content';
  message: string;
}

export interface ValidityResult {
  problems: ValidityProblem[];
  /** Not wrong, but worth knowing (an expired certificate). */
  warnings: string[];
}

/** Checks one Secret as read from a backup. `now` judges certificate expiry (a warning). */
export function validateSecret(s: ExportedSecret, now: Date): ValidityResult {
  const problems: ValidityProblem[] = [];
  const warnings: string[] = [];
  const invalid = (message: string) => problems.push({ severity: 'invalid', message });
  const content = (message: string) => problems.push({ severity: 'content', message });
  const { namespace, name } = s.metadata;

  if (!isDnsLabel(namespace)) invalid(`namespace "${namespace}" is not a valid DNS-1123 label`);
  if (!isDnsSubdomain(name))
    invalid(`name "${name}" is not a valid DNS-1123 subdomain (at most 253 lower-case letters, digits, '-' and '.')`);

  const data = s.data ?? {};
  let total = 0;
  /** Decoded size of each value that is valid base64 (only the few a type check reads are decoded). */
  const sizes = new Map<string, number>();
  for (const [key, value] of Object.entries(data)) {
    const keyProblem = dataKeyProblem(key);
    if (keyProblem !== undefined) invalid(`data key "${key}" ${keyProblem}`);
    const size = base64Size(value);
    if (size === undefined) {
      invalid(`the value of data key "${key}" is not valid base64`);
      continue;
    }
    sizes.set(key, size);
    total += size;
  }
  if (total > MAX_SECRET_DATA_BYTES)
    invalid(`its data is ${total} bytes, more than the API's limit of ${MAX_SECRET_DATA_BYTES} bytes (1 MiB)`);

  for (const [key, value] of Object.entries(s.metadata.labels ?? {})) {
    const p = qualifiedNameProblem(key);
    if (p !== undefined) invalid(`label key "${key}" ${p}`);
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value))
      invalid(`the value of label "${key}" is not a valid label value`);
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(s.metadata.annotations ?? {})) {
    const p = qualifiedNameProblem(key.toLowerCase());
    if (p !== undefined) invalid(`annotation key "${key}" ${p}`);
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(String(value));
  }
  if (annotationBytes > MAX_ANNOTATION_BYTES)
    invalid(`its annotations are ${annotationBytes} bytes, more than the API's limit of ${MAX_ANNOTATION_BYTES}`);

  const has = (key: string) => Object.hasOwn(data, key);
  const text = (key: string) => (sizes.has(key) ? Buffer.from(data[key], 'base64').toString('utf8') : '');
  switch (s.type) {
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) invalid('type kubernetes.io/tls requires data key tls.crt');
      if (!has('tls.key')) invalid('type kubernetes.io/tls requires data key tls.key');
      if (sizes.has('tls.crt') && sizes.has('tls.key')) checkTls(text('tls.crt'), text('tls.key'), now, content, warnings);
      break;
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) invalid('type kubernetes.io/dockerconfigjson requires data key .dockerconfigjson');
      else if (sizes.has('.dockerconfigjson') && !isJsonObject(text('.dockerconfigjson')))
        invalid('.dockerconfigjson does not parse as a JSON object');
      break;
    case 'kubernetes.io/dockercfg':
      if (!has('.dockercfg') || sizes.get('.dockercfg') === 0)
        invalid('type kubernetes.io/dockercfg requires a non-empty data key .dockercfg');
      else if (sizes.has('.dockercfg') && !isJsonObject(text('.dockercfg'))) invalid('.dockercfg does not parse as a JSON object');
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) invalid('type kubernetes.io/basic-auth requires data key username or password (or both)');
      break;
    case 'kubernetes.io/ssh-auth':
      if (!has('ssh-privatekey') || sizes.get('ssh-privatekey') === 0)
        invalid('type kubernetes.io/ssh-auth requires a non-empty data key ssh-privatekey');
      break;
    case 'kubernetes.io/service-account-token':
      if (!s.metadata.annotations?.['kubernetes.io/service-account.name'])
        invalid('type kubernetes.io/service-account-token requires annotation kubernetes.io/service-account.name');
      break;
    default:
      break;
  }
  return { problems, warnings };
}

/**
 * The decoded size of `value` when it is base64 as the API server's decoder accepts it (the
 * standard alphabet, padded to a multiple of 4 characters, `=` only as the last one or two;
 * i.e. `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`), else undefined.
 * Checked character by character: neither decoding nor re-encoding the value (which made a
 * string as large as it per value) nor a regular expression over megabytes.
 */
export function base64Size(value: string): number | undefined {
  const n = value.length;
  if (n % 4 !== 0) return undefined;
  const pad = n === 0 || value.charCodeAt(n - 1) !== 0x3d ? 0 : value.charCodeAt(n - 2) === 0x3d ? 2 : 1;
  for (let i = 0; i < n - pad; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || BASE64_CHARS[c] === 0) return undefined;
  }
  return (n / 4) * 3 - pad;
}

function checkTls(crt: string, key: string, now: Date, content: (m: string) => void, warnings: string[]): void {
  const blocks = crt.match(PEM_CERTIFICATE) ?? [];
  const certs: X509Certificate[] = [];
  if (blocks.length === 0) content('tls.crt holds no PEM certificate');
  blocks.forEach((block, i) => {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      content(`tls.crt: PEM certificate ${i + 1} of ${blocks.length} does not parse as X.509`);
    }
  });
  let privateKey: KeyObject | undefined;
  try {
    privateKey = createPrivateKey({ key, format: 'pem' });
  } catch {
    content('tls.key does not parse as a PEM private key');
  }
  if (certs.length > 0 && privateKey !== undefined && certs.length === blocks.length) {
    let matches = false;
    try {
      matches = certs[0].checkPrivateKey(privateKey);
    } catch {
      matches = false;
    }
    if (!matches) content('tls.key is not the private key of the first certificate in tls.crt');
  }
  const leaf = certs[0];
  if (leaf !== undefined) {
    const until = new Date(leaf.validTo);
    if (Number.isFinite(until.getTime()) && until.getTime() < now.getTime())
      warnings.push(`its certificate (tls.crt) expired on ${until.toISOString()}`);
  }
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}
