import { z } from 'zod';
import type { RotationBackend } from './backend.js';
import { SHIPPED_BACKENDS } from './backends/index.js';
import { GENERATORS, type Generator } from './generators/index.js';
import { policyDocumentSchema } from './policy.js';

/** Where the published JSON Schema of the rotation policy is committed (`npm run docs:cli` writes it). */
export const ROTATION_POLICY_SCHEMA_PATH = 'docs/rotation-policy.schema.json';

/**
 * The schema's identifier: a name, like the `secret-steward.io/...` annotation keys and
 * document formats, not an address to fetch it from (the file is ROTATION_POLICY_SCHEMA_PATH).
 */
export const ROTATION_POLICY_SCHEMA_ID = 'https://secret-steward.io/schemas/rotation-policy.schema.json';

/** What `parsePolicy` checks and JSON Schema cannot say: the zod refinements and the rules across fields. */
const ONLY_THE_PARSER_CHECKS = [
  'exactly one of schedule and maxAge, and timeZone only with schedule',
  'schedule is a valid 5-field cron expression (or @hourly ... @yearly) in timeZone, an IANA time zone',
  'durations (maxAge, rollout.waitReady, a tls validity, backend connectTimeout) parse and lie within their bounds',
  'keepVersions only with strategy versioned, and rollout.restart false only in place',
  'keys names at least one data key; every data key (and every key a generator or backend writes) is a valid Secret data key written by one generator only',
  'password and token keys give at least minEntropyBits of entropy (128 by default, never below 64)',
  'generator fields that depend on each other (a tls subject and issuer, keypair and tls output keys, template placeholders that exist and form no cycle)',
  'consumers entries are kind/name with a kind of deployment, statefulset, daemonset, cronjob or rollout (Argo Rollouts) and a valid object name',
  'backend fields that depend on each other (postgresql, mysql: a field or its ...Key, not both; adminSecretRef only, and always, with alternating-users)',
  'host names, addresses and DNS names are well-formed',
  'group: members named once each by a Secret name without a namespace; a group member keeps rollout.rollbackOnFailure true and names no backend',
];

type JsonSchema = { [field: string]: unknown };

/** A zod schema as JSON Schema for what a policy may contain (defaults make fields optional), without its own `$schema`. */
function fromZod(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `backend`: one schema per backend, told apart by `name`; a backend without a `configSchema` takes any fields. */
function backendSchema(backend: RotationBackend): JsonSchema {
  const config = backend.configSchema === undefined ? { type: 'object' } : fromZod(backend.configSchema);
  return {
    ...config,
    properties: { name: { const: backend.name }, ...(config.properties as JsonSchema | undefined) },
    required: ['name', ...((config.required as string[] | undefined) ?? [])],
  };
}

/**
 * The JSON Schema (draft 2020-12) of the `secret-steward.io/rotation` annotation's document,
 * generated from the zod schemas `parsePolicy` validates with: the document's fields
 * (`policyDocumentSchema`), every generator's schema for the values of `keys` (or a bare
 * generator name), every backend's `configSchema` for `backend`. A document this schema
 * rejects, `parsePolicy` rejects too; the converse does not hold (see the description).
 */
export function rotationPolicyJsonSchema(
  generators: ReadonlyMap<string, Generator> = GENERATORS,
  backends: readonly RotationBackend[] = SHIPPED_BACKENDS,
): JsonSchema {
  const document = fromZod(policyDocumentSchema);
  const properties = document.properties as JsonSchema;
  properties.keys = {
    type: 'object',
    description: 'data key -> generator: a generator name (all its defaults) or the generator and its fields',
    additionalProperties: {
      anyOf: [
        { type: 'string', enum: [...generators.keys()] },
        ...[...generators.values()].map((g) => ({ description: g.summary, ...fromZod(g.schema) })),
      ],
    },
  };
  properties.backend = { anyOf: backends.map(backendSchema) };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: ROTATION_POLICY_SCHEMA_ID,
    title: 'secret-steward rotation policy (the secret-steward.io/rotation annotation, YAML or JSON)',
    description:
      'Generated from the schemas secret-steward validates policies with (shared/rotate/policy.ts, its generators and backends). ' +
      'secret-steward also checks what JSON Schema cannot express, so a policy this schema accepts may still be refused: ' +
      `${ONLY_THE_PARSER_CHECKS.join('; ')}. secret-steward status shows every problem of every policy in a cluster.`,
    ...document,
  };
}

/** The committed file's text. */
export function rotationPolicyJsonSchemaText(): string {
  return `${JSON.stringify(rotationPolicyJsonSchema(), null, 2)}\n`;
}
