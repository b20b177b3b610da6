import type { ReferenceUse } from '../../../../shared/rotate/allow-references.js';
import type { GeneratorContext } from '../../../../shared/rotate/generators/index.js';
import { tlsGenerator } from '../../../../shared/rotate/generators/tls.js';

/** A generator context for tests: records registered values, warnings, and other Secrets read (as `name:use`). */
export function testContext(
  key: string,
  opts: { values?: Record<string, string>; secrets?: Record<string, ReadonlyMap<string, Buffer>>; now?: Date } = {},
): GeneratorContext & { registered: Array<string | Uint8Array>; warnings: string[]; reads: string[] } {
  const registered: Array<string | Uint8Array> = [];
  const warnings: string[] = [];
  const reads: string[] = [];
  return {
    namespace: 'apps',
    secretName: 'subject',
    key,
    now: opts.now ?? new Date(),
    values: new Map(Object.entries(opts.values ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
    readSecret: async (name: string, use: ReferenceUse) => {
      reads.push(`${name}:${use}`);
      return opts.secrets?.[name];
    },
    register: (v) => registered.push(v),
    warn: (m) => warnings.push(m),
    registered,
    warnings,
    reads,
  };
}

/** True when `value` (as text) was registered with the redactor. */
export function wasRegistered(registered: Array<string | Uint8Array>, value: Buffer): boolean {
  return registered.some((r) => Buffer.from(typeof r === 'string' ? Buffer.from(r) : r).equals(value));
}

/** A self-signed CA made by the tls generator (one year): `tls.crt` and `tls.key`, for a CA Secret in tests. */
export function selfSignedCa(commonName: string): Promise<Map<string, Buffer>> {
  return tlsGenerator.generate(
    tlsGenerator.schema.parse({ generator: 'tls', commonName, ca: true, validity: '365d' }),
    testContext('tls.crt'),
  );
}
