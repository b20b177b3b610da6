/**
 * `npm run docs:cli`: writes the command reference (docs/cli/) from the commands' help and
 * settings tables, and removes pages of commands that no longer exist; and the rotation
 * policy's JSON Schema (docs/rotation-policy.schema.json) from the schemas rotate validates
 * policies with; and the DR-site overlay's drill-namespaces.yaml from the code that prints a fleet's
 * manifests. test/tooling/docs-cli.test.ts, test/shared/rotate/policy-schema.test.ts and
 * test/shared/verify-restore/fleet-manifests.test.ts fail when the committed files differ from
 * what this writes.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../../jobs/commands.js';
import { REFERENCE_DIR, referenceFiles } from '../../shared/config/reference.js';
import { ROTATION_POLICY_SCHEMA_PATH, rotationPolicyJsonSchemaText } from '../../shared/rotate/policy-schema.js';
import { DR_SITE_DRILL_NAMESPACES_PATH, drillNamespacesYamlText } from '../../shared/verify-restore/fleet-manifests.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

const files = referenceFiles(COMMANDS);
await mkdir(join(ROOT, REFERENCE_DIR), { recursive: true });
const wanted = new Set(files.map((f) => f.path));
for (const name of await readdir(join(ROOT, REFERENCE_DIR))) {
  const path = `${REFERENCE_DIR}/${name}`;
  if (name.endsWith('.md') && !wanted.has(path)) await rm(join(ROOT, path));
}
for (const f of files) await writeFile(join(ROOT, f.path), f.text);
await writeFile(join(ROOT, ROTATION_POLICY_SCHEMA_PATH), rotationPolicyJsonSchemaText());
await writeFile(join(ROOT, DR_SITE_DRILL_NAMESPACES_PATH), drillNamespacesYamlText());
process.stdout.write(`wrote ${[...files.map((f) => f.path), ROTATION_POLICY_SCHEMA_PATH, DR_SITE_DRILL_NAMESPACES_PATH].join(', ')}\n`);
