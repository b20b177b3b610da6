/**
 * The rotation scenario: `secrets` due Secrets over `namespaces` namespaces (`rot-000`...),
 * each last rotated 40 days ago under a 30-day maxAge, and in every namespace Deployments
 * that each consume two of them (one through env, one through envFrom or a volume), so a run
 * rotates every Secret and restarts every Deployment once.
 */
import { BENCH_LABEL } from './generate.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

const POLICIES = [
  'maxAge: 30d\nkeys:\n  password: { generator: password, length: 32 }\nrollout: { waitReady: 2m }',
  'maxAge: 30d\nkeys:\n  password: { generator: token, bytes: 32 }\nrollout: { waitReady: 2m }',
  'maxAge: 30d\nkeys:\n  password: { generator: password, length: 24 }\n  url: { generator: template, template: "postgres://app:{{ password | urlencode }}@db:5432/app" }\nrollout: { waitReady: 2m }',
];

export interface RotationFixture {
  namespaces: string[];
  secrets: number;
  deployments: number;
  objects: Array<Record<string, unknown>>;
}

export function rotationNamespace(i: number): string {
  return `rot-${String(i).padStart(3, '0')}`;
}

export function rotationFixture(secrets: number, namespaces: number, now = new Date()): RotationFixture {
  const lastRotated = new Date(now.getTime() - 40 * 86_400_000).toISOString();
  const perNs = Math.ceil(secrets / namespaces);
  const objects: Array<Record<string, unknown>> = [];
  const nsNames: string[] = [];
  let made = 0;
  let deployments = 0;
  for (let n = 0; n < namespaces && made < secrets; n++) {
    const namespace = rotationNamespace(n);
    nsNames.push(namespace);
    objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const names: string[] = [];
    for (let i = 0; i < perNs && made < secrets; i++, made++) {
      const name = `db-${i}`;
      names.push(name);
      objects.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name,
          namespace,
          labels: { [BENCH_LABEL]: 'rotation' },
          annotations: { 'secret-steward.io/rotation': POLICIES[made % POLICIES.length], 'secret-steward.io/last-rotated': lastRotated },
        },
        type: 'Opaque',
        data: { password: b64(`initial-${namespace}-${i}`), url: b64(`postgres://app:initial@db:5432/app`) },
      });
    }
    for (let d = 0; d * 2 < names.length; d++) {
      const [a, b] = [names[d * 2], names[d * 2 + 1] ?? names[d * 2]];
      const app = `svc-${d}`;
      deployments++;
      objects.push({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app, namespace },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels: { app } },
            spec: {
              containers: [
                {
                  name: app,
                  image: 'registry.k8s.io/pause:3.9',
                  env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: a, key: 'password' } } }],
                  ...(d % 2 === 0
                    ? { envFrom: [{ secretRef: { name: b } }] }
                    : { volumeMounts: [{ name: 'creds', mountPath: '/etc/creds', readOnly: true }] }),
                },
              ],
              ...(d % 2 === 0 ? {} : { volumes: [{ name: 'creds', secret: { secretName: b } }] }),
            },
          },
        },
      });
    }
  }
  return { namespaces: nsNames, secrets: made, deployments, objects };
}
