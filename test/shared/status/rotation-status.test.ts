import assert from 'node:assert/strict';
import { assessRotation, describeTrigger, type PolicyHolder, type RotationState } from '../../../shared/status/rotation-status.js';

const NOW = new Date('2026-03-11T12:00:00Z'); // a Wednesday
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

const MAX_AGE = 'maxAge: 30d\nkeys:\n  password: { generator: password }';
const DAILY_3AM = 'schedule: "0 3 * * *"\nkeys:\n  password: password';

function holder(
  policy: string,
  o: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    type?: string;
    immutable?: boolean;
    keys?: string[];
    created?: string;
    pending?: PolicyHolder['pending'];
  } = {},
): PolicyHolder {
  return {
    secret: {
      metadata: {
        namespace: 'shop',
        name: 'db',
        creationTimestamp: new Date(o.created ?? ago(365 * DAY)),
        labels: o.labels,
        annotations: { 'secret-steward.io/rotation': policy, ...o.annotations },
      },
      type: o.type ?? 'Opaque',
      immutable: o.immutable,
      dataKeys: o.keys ?? ['password'],
    },
    pending: o.pending,
  };
}

const rotated = (at: string) => ({ 'secret-steward.io/last-rotated': at });

describe('shared/status/rotation-status', () => {
  describe('assessRotation', () => {
    const cases: Array<{
      name: string;
      h: PolicyHolder;
      state: RotationState;
      detail?: RegExp;
      notDetail?: RegExp;
      nextDue?: string;
      dueSince?: string;
    }> = [
      {
        name: 'maxAge, rotated 10 days ago',
        h: holder(MAX_AGE, { annotations: rotated(ago(10 * DAY)) }),
        state: 'ok',
        nextDue: ago(-20 * DAY),
      },
      {
        name: 'maxAge, due 30 minutes ago (within the grace)',
        h: holder(MAX_AGE, { annotations: rotated(ago(30 * DAY + 30 * 60_000)) }),
        state: 'due',
        dueSince: ago(30 * 60_000),
      },
      {
        name: 'maxAge, due 2 hours ago',
        h: holder(MAX_AGE, { annotations: rotated(ago(30 * DAY + 2 * HOUR)) }),
        state: 'overdue',
        dueSince: ago(2 * HOUR),
        detail: /older than maxAge 30d; due for longer than the grace period 1h/,
      },
      { name: 'never rotated: creation time counts', h: holder(MAX_AGE, { created: ago(5 * DAY) }), state: 'ok', nextDue: ago(-25 * DAY) },
      {
        name: "daily 03:00, rotated at today's slot",
        h: holder(DAILY_3AM, { annotations: rotated('2026-03-11T03:00:05Z') }),
        state: 'ok',
        nextDue: '2026-03-12T03:00:00.000Z',
      },
      {
        name: "daily 03:00, last rotated yesterday: today's slot is 9 hours old",
        h: holder(DAILY_3AM, { annotations: rotated('2026-03-10T03:00:05Z') }),
        state: 'overdue',
        dueSince: '2026-03-11T03:00:00.000Z',
      },
      {
        name: 'rotate-now alone is due but never overdue (its age is unknown)',
        h: holder(MAX_AGE, { annotations: { ...rotated(ago(DAY)), 'secret-steward.io/rotate-now': 'x' } }),
        state: 'due',
      },
      {
        name: 'rolled back for the current slot: held until the next one',
        h: holder(DAILY_3AM, {
          annotations: {
            ...rotated('2026-03-10T03:00:05Z'),
            'secret-steward.io/last-outcome': JSON.stringify({
              result: 'rolled-back',
              rotation: 'r1',
              at: '2026-03-11T03:01:00Z',
              slot: '2026-03-11T03:00:00.000Z',
            }),
          },
        }),
        state: 'held',
        detail: /held until the next slot/,
      },
      {
        name: 'in flight after promotion (head annotations)',
        h: holder(MAX_AGE, {
          annotations: { ...rotated(ago(DAY)), 'secret-steward.io/rotation-id': 'r9', 'secret-steward.io/rotation-step': 'finished' },
        }),
        state: 'in-flight',
        detail: /rotation r9 in flight at step finished/,
      },
      {
        name: 'in flight before promotion (a pending companion)',
        h: holder(MAX_AGE, {
          annotations: rotated(ago(30 * DAY + 10 * 60_000)),
          pending: {
            metadata: {
              labels: { 'secret-steward.io/role': 'pending', 'secret-steward.io/rotation-id': 'r7' },
              annotations: { 'secret-steward.io/rotation-step': 'set' },
            },
            dataKeys: [],
          },
        }),
        state: 'in-flight',
        detail: /rotation r7 in flight at step set/,
      },
      {
        name: 'a pending companion of a rotation that already ended is not in flight',
        h: holder(MAX_AGE, {
          annotations: {
            ...rotated(ago(DAY)),
            'secret-steward.io/last-outcome': JSON.stringify({ result: 'succeeded', rotation: 'r7', at: ago(DAY) }),
          },
          pending: { metadata: { labels: { 'secret-steward.io/role': 'pending', 'secret-steward.io/rotation-id': 'r7' } }, dataKeys: [] },
        }),
        state: 'ok',
      },
      {
        name: 'a policy with a bad field',
        h: holder('maxAge: 30d\nkeys:\n  password: { generator: password, lenght: 3 }'),
        state: 'invalid',
        detail: /keys\.password\.lenght: unknown field/,
      },
      { name: 'not YAML', h: holder('maxAge: [30d'), state: 'invalid', detail: /not valid YAML or JSON/ },
      {
        name: 'a policy naming the shipped postgresql backend',
        h: holder(`${MAX_AGE}\nbackend: { name: postgresql, host: db }`, { annotations: rotated(ago(DAY)) }),
        state: 'ok',
      },
      {
        name: 'a postgresql policy without sslmode or CA: still valid, and status says what the 0.2.0 default means',
        h: holder(`${MAX_AGE}\nbackend: { name: postgresql, host: db }`, { annotations: rotated(ago(DAY)) }),
        state: 'ok',
        detail:
          /backend\.sslmode is not set, so the connection needs a certificate that a public CA signed for the host \(verify-full; before 0\.2\.0 the default was prefer\): for a private CA add backend\.sslRootCertKey, for a server without TLS backend\.sslmode: disable/,
      },
      ...[
        ['an explicit sslmode', 'backend: { name: postgresql, host: db, sslmode: require }', ['password']],
        ['an sslmodeKey', 'backend: { name: postgresql, host: db, sslmodeKey: mode }', ['password', 'mode']],
        ["the Secret's own sslmode key", 'backend: { name: postgresql, host: db }', ['password', 'sslmode']],
        ['a CA key', 'backend: { name: postgresql, host: db, sslRootCertKey: ca.crt }', ['password', 'ca.crt']],
      ].map(([what, backend, keys]) => ({
        name: `a postgresql policy with ${what}: no word about sslmode`,
        h: holder(`${MAX_AGE}\n${backend}`, { annotations: rotated(ago(DAY)), keys: keys as string[] }),
        state: 'ok' as const,
        notDetail: /sslmode is not set/,
      })),
      {
        name: 'a bad postgresql backend field',
        h: holder(`${MAX_AGE}\nbackend: { name: postgresql, sslmode: sometimes }`),
        state: 'invalid',
        detail: /backend\.sslmode: /,
      },
      {
        name: 'an unknown backend',
        h: holder(`${MAX_AGE}\nbackend: { name: oracle }`),
        state: 'invalid',
        detail: /unknown rotation backend "oracle" \(known: mysql, postgresql\)/,
      },
      {
        name: 'in-place on an immutable Secret',
        h: holder(MAX_AGE, { immutable: true }),
        state: 'invalid',
        detail: /immutable.*use strategy: versioned/,
      },
      {
        name: 'a template reading a key the Secret does not have',
        h: holder('maxAge: 30d\nkeys:\n  url: { generator: template, template: "x://{{ username }}" }', { keys: ['url'] }),
        state: 'invalid',
        detail: /username/,
      },
      {
        name: 'Helm release storage is never rotated',
        h: holder(MAX_AGE, { type: 'helm.sh/release.v1' }),
        state: 'skipped',
        detail: /managed by Helm/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const { status } = assessRotation(c.h, NOW, HOUR);

        assert.equal(status.state, c.state, status.detail);
        if (c.detail) assert.match(status.detail, c.detail);
        if (c.notDetail) assert.doesNotMatch(status.detail, c.notDetail);
        if (c.nextDue) assert.equal(status.nextDue, c.nextDue);
        if (c.dueSince) assert.equal(status.dueSince, c.dueSince);
      });
    }

    it('reports schedule, strategy, last rotation and last outcome', () => {
      const outcome = { result: 'succeeded', rotation: 'r1', at: '2026-03-08T02:00:00Z' };
      const h = holder('schedule: "0 3 * * 0"\ntimeZone: Europe/Berlin\nstrategy: versioned\nkeys:\n  password: password', {
        annotations: { ...rotated('2026-03-08T02:00:00Z'), 'secret-steward.io/last-outcome': JSON.stringify(outcome) },
      });

      const { status } = assessRotation(h, NOW, HOUR);

      assert.equal(status.schedule, '0 3 * * 0 (Europe/Berlin)');
      assert.equal(status.strategy, 'versioned');
      assert.equal(status.lastRotated, '2026-03-08T02:00:00Z');
      assert.deepEqual(status.lastOutcome, outcome);
      assert.equal(status.nextDue, '2026-03-15T02:00:00.000Z');
    });

    it('reports a policy whose referenced Secret does not allow it as invalid, naming the annotation, before it is due', () => {
      const TLS = 'maxAge: 30d\nkeys:\n  tls.crt: { generator: tls, commonName: svc, issuer: { secret: shop-ca } }';
      const h = holder(TLS, { annotations: rotated(ago(DAY)), keys: ['tls.crt', 'tls.key'] });
      const listed = (annotations: Record<string, string>) => (ns: string, name: string) =>
        ns === 'shop' && name === 'shop-ca' ? { annotations } : undefined;

      const refused = assessRotation(h, NOW, HOUR, listed({})).status;
      const allowed = assessRotation(h, NOW, HOUR, listed({ 'secret-steward.io/allow-references': 'db:issuer' })).status;
      const unseen = assessRotation(h, NOW, HOUR, () => undefined).status;

      assert.equal(refused.state, 'invalid');
      assert.equal(
        refused.detail,
        'keys["tls.crt"].issuer.secret: Secret shop/shop-ca does not allow Secret shop/db to use it as issuer (sign certificates with its CA): add the annotation secret-steward.io/allow-references: "db:issuer" to Secret shop/shop-ca',
      );
      assert.equal(allowed.state, 'ok', allowed.detail);
      assert.equal(unseen.state, 'ok', 'a Secret the listing did not see is left to the rotate run');
    });

    it('the grace period decides between due and overdue', () => {
      const h = holder(MAX_AGE, { annotations: rotated(ago(30 * DAY + 2 * HOUR)) });

      assert.equal(assessRotation(h, NOW, 3 * HOUR).status.state, 'due');
      assert.equal(assessRotation(h, NOW, HOUR).status.state, 'overdue');
      assert.equal(assessRotation(h, NOW, 0).status.state, 'overdue');
    });
  });

  it('describeTrigger', () => {
    assert.equal(describeTrigger({ kind: 'schedule', cron: '@daily', timeZone: 'UTC' }), '@daily (UTC)');
    assert.equal(describeTrigger({ kind: 'max-age', maxAgeMs: 36 * HOUR }), 'maxAge 1d12h');
  });
});
