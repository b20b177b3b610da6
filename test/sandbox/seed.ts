/**
 * The demo cluster: a few namespaces of a small shop, with Secrets of the common types (some
 * carrying rotation policies: a database password and the URL embedding it, a session token,
 * a TLS certificate signed by an internal CA, a versioned API-key Secret used via envFrom)
 * and Deployments consuming them through env, envFrom, volumes and imagePullSecrets. Four
 * policies are due (their last rotation is older than their policy allows), two are not.
 * Used by `npm start` (test/sandbox/demo.ts) and `npm run sandbox -- --seed`.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tlsGenerator } from '../../shared/rotate/generators/tls.js';
import type { KubeEmulator } from '../emulator/index.js';

const DAY = 86_400_000;
const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64');
const ROTATION = 'secret-steward.io/rotation';
const LAST_ROTATED = 'secret-steward.io/last-rotated';

export interface SeedSummary {
  namespaces: string[];
  secrets: number;
  /** `namespace/name` of the Secrets with a rotation policy. */
  policies: string[];
  /** Of those, the ones due when seeded. */
  due: string[];
  deployments: string[];
}

interface Refs {
  env?: Array<[secret: string, key: string, variable: string]>;
  envFrom?: string[];
  volumes?: string[];
  imagePullSecrets?: string[];
}

function deployment(namespace: string, name: string, image: string, refs: Refs, replicas = 2): Record<string, unknown> {
  const volumes = (refs.volumes ?? []).map((s) => ({ name: s, secret: { secretName: s } }));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name,
              image,
              env: (refs.env ?? []).map(([secret, key, variable]) => ({
                name: variable,
                valueFrom: { secretKeyRef: { name: secret, key } },
              })),
              envFrom: (refs.envFrom ?? []).map((s) => ({ secretRef: { name: s } })),
              volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/etc/secrets/${v.name}`, readOnly: true })),
            },
          ],
          volumes,
          imagePullSecrets: (refs.imagePullSecrets ?? []).map((n) => ({ name: n })),
        },
      },
    },
  };
}

function secret(
  namespace: string,
  name: string,
  data: Record<string, string | Buffer>,
  o: {
    type?: string;
    policy?: string;
    lastRotatedDaysAgo?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    immutable?: boolean;
    now: Date;
  },
): Record<string, unknown> {
  const annotations: Record<string, string> = { ...o.annotations };
  if (o.policy !== undefined) annotations[ROTATION] = o.policy;
  if (o.lastRotatedDaysAgo !== undefined) annotations[LAST_ROTATED] = new Date(o.now.getTime() - o.lastRotatedDaysAgo * DAY).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(o.labels ? { labels: o.labels } : {}), ...(Object.keys(annotations).length ? { annotations } : {}) },
    type: o.type ?? 'Opaque',
    ...(o.immutable ? { immutable: true } : {}),
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

async function tlsPair(spec: Record<string, unknown>, secretName: string, issuer?: Map<string, Buffer>): Promise<Map<string, Buffer>> {
  return tlsGenerator.generate(tlsGenerator.schema.parse({ generator: 'tls', ...spec }), {
    namespace: 'web',
    secretName,
    key: 'tls.crt',
    now: new Date(),
    values: new Map(),
    readSecret: async () => issuer,
    register: () => {},
    warn: () => {},
  });
}

/** Seeds the demo cluster into an emulator (as admin); returns what was created. */
export async function seedDemoCluster(emulator: KubeEmulator, opts: { now?: Date } = {}): Promise<SeedSummary> {
  const now = opts.now ?? new Date();
  const namespaces = ['payments', 'web', 'platform', 'monitoring'];
  const dbPassword = `initial-${randomBytes(6).toString('hex')}`;
  const ca = await tlsPair({ commonName: 'Shop Internal CA', ca: true, validity: '365d' }, 'internal-ca');
  const leaf = await tlsPair(
    { dnsNames: ['shop.example.com'], validity: '90d', issuer: { secret: 'internal-ca' }, caCertificate: 'ca.crt' },
    'frontend-tls',
    ca,
  );
  const dockerConfig = JSON.stringify({ auths: { 'registry.shop.example': { auth: b64(`ci-bot:${randomBytes(12).toString('hex')}`) } } });
  // Helm stores each release as gzip'd JSON in a Secret: big, binary-looking, owned by Helm.
  const helmRelease = gzipSync(JSON.stringify({ name: 'ingress-nginx', version: 3, manifest: randomBytes(24_000).toString('base64') }));

  const secrets = [
    // payments: a database password and the URL that embeds it (due), an API token (not due).
    secret(
      'payments',
      'db-credentials',
      { username: 'payments', password: dbPassword, DATABASE_URL: `postgres://payments:${dbPassword}@postgres.payments:5432/payments` },
      {
        now,
        lastRotatedDaysAgo: 45,
        policy: [
          'maxAge: 30d',
          'keys:',
          '  password: { generator: password, length: 32, exclude: "\\"\'\\\\`" }',
          '  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@postgres.payments:5432/payments" }',
          'rollout: { waitReady: 2m }',
        ].join('\n'),
      },
    ),
    secret(
      'payments',
      'stripe-api',
      { 'api-token': `sk_live_${randomBytes(24).toString('base64url')}` },
      {
        now,
        lastRotatedDaysAgo: 10,
        policy:
          'maxAge: 90d\nkeys:\n  api-token: { generator: token, bytes: 24, encoding: base64url, prefix: "sk_live_" }\nconsumers: [deployment/payments-api]',
      },
    ),
    secret('payments', 'registry-credentials', { '.dockerconfigjson': dockerConfig }, { now, type: 'kubernetes.io/dockerconfigjson' }),
    // web: a session signing token on a weekly schedule (due) and a TLS certificate from the internal CA (due).
    secret(
      'web',
      'session-signing-key',
      { 'signing-key': randomBytes(32).toString('base64url') },
      {
        now,
        lastRotatedDaysAgo: 9,
        policy: 'schedule: "0 3 * * 0"   # Sundays 03:00\ntimeZone: Europe/Berlin\nkeys:\n  signing-key: { generator: token, bytes: 32 }',
      },
    ),
    // The CA lets frontend-tls (and only it) have certificates signed with it.
    secret(
      'web',
      'internal-ca',
      { 'tls.crt': ca.get('tls.crt')!, 'tls.key': ca.get('tls.key')! },
      { now, type: 'kubernetes.io/tls', annotations: { 'secret-steward.io/allow-references': 'frontend-tls:issuer' } },
    ),
    secret(
      'web',
      'frontend-tls',
      { 'tls.crt': leaf.get('tls.crt')!, 'tls.key': leaf.get('tls.key')!, 'ca.crt': leaf.get('ca.crt') ?? ca.get('tls.crt')! },
      {
        now,
        type: 'kubernetes.io/tls',
        lastRotatedDaysAgo: 70,
        policy:
          'maxAge: 60d\nkeys:\n  tls.crt: { generator: tls, dnsNames: [shop.example.com], validity: 90d, issuer: { secret: internal-ca }, caCertificate: ca.crt }',
      },
    ),
    secret(
      'web',
      'admin-basic-auth',
      { username: 'admin', password: randomBytes(12).toString('hex') },
      { now, type: 'kubernetes.io/basic-auth' },
    ),
    // platform: a versioned, immutable Secret used via envFrom (due), and Helm's release storage (never rotated).
    secret(
      'platform',
      'api-keys-v1',
      { API_KEY: randomBytes(24).toString('base64url'), REGION: 'eu-west-1' },
      {
        now,
        immutable: true,
        lastRotatedDaysAgo: 8,
        policy: 'maxAge: 7d\nstrategy: versioned\nkeepVersions: 3\nkeys:\n  API_KEY: { generator: token, bytes: 24 }',
      },
    ),
    secret(
      'platform',
      'sh.helm.release.v1.ingress-nginx.v3',
      { release: helmRelease },
      { now, type: 'helm.sh/release.v1', labels: { owner: 'helm', name: 'ingress-nginx', version: '3' } },
    ),
    // monitoring: an admin password rotated every 30 days (not due) and a config file with credentials in it.
    secret(
      'monitoring',
      'grafana-admin',
      { 'admin-user': 'admin', 'admin-password': randomBytes(16).toString('hex') },
      {
        now,
        lastRotatedDaysAgo: 3,
        policy: 'maxAge: 30d\nkeys:\n  admin-password: { generator: password, length: 24 }',
      },
    ),
    secret(
      'monitoring',
      'alertmanager-config',
      {
        'alertmanager.yaml': `global:\n  smtp_auth_password: ${randomBytes(10).toString('hex')}\nroute:\n  receiver: ops\nreceivers:\n  - name: ops\n`,
      },
      { now },
    ),
  ];
  const deployments = [
    deployment('payments', 'payments-api', 'registry.shop.example/payments-api:2.4.1', {
      env: [
        ['db-credentials', 'DATABASE_URL', 'DATABASE_URL'],
        ['stripe-api', 'api-token', 'STRIPE_TOKEN'],
      ],
      imagePullSecrets: ['registry-credentials'],
    }),
    deployment(
      'payments',
      'ledger-worker',
      'registry.shop.example/ledger:1.9.0',
      { env: [['db-credentials', 'password', 'DB_PASSWORD']], imagePullSecrets: ['registry-credentials'] },
      1,
    ),
    deployment('web', 'frontend', 'registry.shop.example/frontend:5.0.3', { volumes: ['frontend-tls', 'session-signing-key'] }, 3),
    deployment('platform', 'gateway', 'registry.shop.example/gateway:0.12.0', { envFrom: ['api-keys-v1'] }),
    deployment(
      'monitoring',
      'grafana',
      'grafana/grafana:11.2.0',
      { env: [['grafana-admin', 'admin-password', 'GF_SECURITY_ADMIN_PASSWORD']] },
      1,
    ),
    deployment('monitoring', 'alertmanager', 'prom/alertmanager:0.27.0', { volumes: ['alertmanager-config'] }, 1),
  ];
  await emulator.applyObjects([
    ...namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    ...secrets,
    ...deployments,
  ] as never);

  const key = (o: Record<string, unknown>) => {
    const m = o.metadata as { namespace: string; name: string; annotations?: Record<string, string> };
    return `${m.namespace}/${m.name}`;
  };
  const withPolicy = secrets.filter((s) => (s.metadata as { annotations?: Record<string, string> }).annotations?.[ROTATION] !== undefined);
  return {
    namespaces,
    secrets: secrets.length,
    policies: withPolicy.map(key),
    due: ['payments/db-credentials', 'platform/api-keys-v1', 'web/frontend-tls', 'web/session-signing-key'],
    deployments: deployments.map(key),
  };
}
