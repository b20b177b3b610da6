import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { allContainers, componentOf, describeObject, kustomizationDirs, podTemplatesOf, REPO_ROOT, renderManifests } from './render.js';

const S3_CREDENTIALS = 'secret-steward-s3-credentials';

/** Which Secrets each job's pods mount: key material goes only where it is used. */
const MOUNTED_SECRETS: Record<string, string[]> = {
  backup: ['secret-steward-backup-keys', 'secret-steward-s3-credentials', 'secret-steward-signing-key'],
  rotate: [],
  'verify-restore': ['secret-steward-restore-keys', 'secret-steward-s3-credentials'],
  // Restore also takes the recipient key and its own pre-restore signing key: --mode overwrite
  // writes a pre-restore backup (the undo). Never the backup signing key: what restore seals is
  // trusted as a pre-restore backup only (docs/threat-model.md T5).
  restore: [
    'secret-steward-backup-keys',
    'secret-steward-pre-restore-signing-key',
    'secret-steward-restore-keys',
    'secret-steward-s3-credentials',
  ],
  // rekey: the OLD private key and the signers' public keys (rekey-keys), the recipient's PUBLIC
  // key (backup-keys) and its OWN signing key. Never the backup signing key: what rekey signs is
  // trusted only for where a re-encrypted copy is stored (docs/rekey.md).
  rekey: ['secret-steward-backup-keys', 'secret-steward-rekey-keys', 'secret-steward-rekey-signing-key', 'secret-steward-s3-credentials'],
};

/** components/drill-report-signing: verify-restore then also mounts its own signing key. */
const DRILL_SIGNING_KEY = 'secret-steward-drill-signing-key';

/** Text that must never be committed under manifests/. */
const SECRET_PATTERNS: [string, RegExp][] = [
  ['a PEM or OpenPGP armored block', /-----BEGIN [A-Z ]+-----/],
  ['an AWS access key id', /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['an AWS secret key assignment', /aws_secret_access_key\s*=/i],
  ['base64 Secret data', /^\s*data:\s*\n\s+[\w.-]+:\s+[A-Za-z0-9+/]{40,}={0,2}\s*$/m],
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('manifests: no Secret material, only references', () => {
  for (const dir of kustomizationDirs()) {
    it(`${dir}: renders no Secret and reads none into the environment`, async () => {
      const objects = await renderManifests(dir);

      assert.deepEqual(objects.filter((o) => o.kind === 'Secret').map(describeObject), []);
      for (const t of objects.flatMap(podTemplatesOf)) {
        for (const { container } of allContainers(t.spec)) {
          const env = (container.env ?? []) as { name: string; valueFrom?: { secretKeyRef?: unknown } }[];
          const envFrom = (container.envFrom ?? []) as { secretRef?: unknown }[];
          assert.deepEqual(
            env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name),
            [],
            `${describeObject(t.owner)}: credentials are files, not variables`,
          );
          assert.equal(envFrom.filter((e) => e.secretRef).length, 0, `${describeObject(t.owner)}: envFrom a Secret`);
        }
      }
    });

    it(`${dir}: Secret volumes are read-only, not world-readable, not subPath-mounted, and only where needed`, async () => {
      const objects = await renderManifests(dir);
      const signsReports = objects.some(
        (o) =>
          o.kind === 'ConfigMap' &&
          o.metadata.name === 'secret-steward-verify-restore' &&
          (o.data as Record<string, string>).SECRET_STEWARD_REPORT_SIGNING_KEY !== undefined,
      );
      for (const t of objects.flatMap(podTemplatesOf)) {
        const where = `${dir}: ${describeObject(t.owner)}`;
        const secretVolumes = (t.spec.volumes ?? []).filter((v) => v.secret) as {
          name: string;
          secret: { secretName: string; defaultMode?: number };
        }[];
        const mounts = (t.spec.containers ?? []).flatMap(
          (c) => (c.volumeMounts ?? []) as { name: string; readOnly?: boolean; subPath?: string }[],
        );

        for (const v of secretVolumes) {
          assert.ok(
            v.secret.defaultMode !== undefined && (v.secret.defaultMode & 0o007) === 0,
            `${where}: volume ${v.name} mode ${v.secret.defaultMode?.toString(8)}`,
          );
          for (const m of mounts.filter((m) => m.name === v.name)) {
            assert.equal(m.readOnly, true, `${where}: ${v.name} mounted writable`);
            assert.equal(m.subPath, undefined, `${where}: ${v.name} subPath mounts never see an updated Secret`);
          }
        }
        // IRSA sites have no static credentials; the DR site mounts read-only ones.
        const irsa = dir.includes('aws-irsa');
        const job = componentOf(t.owner) ?? '';
        const expected = [...MOUNTED_SECRETS[job], ...(job === 'verify-restore' && signsReports ? [DRILL_SIGNING_KEY] : [])]
          .filter((s) => !(irsa && s === S3_CREDENTIALS))
          .sort();
        const mounted = secretVolumes.map((v) => v.secret.secretName.replace(/-readonly$/, '')).sort();
        assert.deepEqual(mounted, expected, where);
      }
    });
  }

  it('settings that name keys or credentials hold file paths, never values', async () => {
    for (const dir of kustomizationDirs()) {
      for (const cm of (await renderManifests(dir)).filter((o) => o.kind === 'ConfigMap')) {
        for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
          if (/KEY|PASSPHRASE|PASSWORD|TOKEN|CREDENTIAL|SECRET_ACCESS/.test(key.replace(/^SECRET_STEWARD_/, ''))) {
            assert.match(value, /^\/[\w./-]+$/, `${dir}: ${describeObject(cm)} ${key} must be a path`);
          }
        }
      }
    }
  });

  it('no file under manifests/ contains key material or credentials', () => {
    const files = filesUnder(join(REPO_ROOT, 'manifests'));

    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return SECRET_PATTERNS.filter(([, re]) => re.test(text)).map(([what]) => `${relative(REPO_ROOT, file)}: ${what}`);
    });

    assert.deepEqual(found, []);
    assert.ok(files.length > 10);
  });

  it('the scan patterns catch what they are meant to', () => {
    const samples = [
      '-----BEGIN PGP PRIVATE KEY BLOCK-----',
      'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'kind: Secret\ndata:\n  password: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n',
    ];

    for (const [i, [what, re]] of SECRET_PATTERNS.entries()) assert.match(samples[i], re, what);
  });
});
