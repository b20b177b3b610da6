import assert from 'node:assert/strict';
import { BackendRegistry, type RotationBackend } from '../../../shared/rotate/backend.js';
import { describeProblems, formatPath, parsePolicy, type RotationPolicy } from '../../../shared/rotate/policy.js';

function ok(text: string, backends?: BackendRegistry): RotationPolicy {
  const r = parsePolicy(text, backends);
  if ('problems' in r) assert.fail(`unexpected problems: ${describeProblems(r.problems)}`);
  return r.policy;
}

function problems(text: string, backends?: BackendRegistry): string[] {
  const r = parsePolicy(text, backends);
  if ('policy' in r) assert.fail('expected problems, got a policy');
  return r.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('shared/rotate/policy', () => {
  it('parses a YAML policy with defaults', () => {
    const policy = ok(`
schedule: "0 3 * * 0"
keys:
  password: password
`);

    assert.deepEqual(policy.trigger, { kind: 'schedule', cron: '0 3 * * 0', timeZone: 'UTC' });
    assert.equal(policy.strategy, 'in-place');
    assert.equal(policy.consumers, 'auto');
    assert.deepEqual(policy.rollout, { restart: true, waitReadyMs: 300_000, rollbackOnFailure: true, forceRollback: false });
    assert.deepEqual(policy.rotatedKeys, ['password']);
    assert.deepEqual(policy.keys[0].spec, {
      generator: 'password',
      length: 32,
      classes: ['lower', 'upper', 'digits', 'symbols'],
      exclude: '',
    });
  });

  it('parses the same policy written as JSON', () => {
    const policy = ok('{"maxAge": "30d", "keys": {"api-token": {"generator": "token", "bytes": 48, "encoding": "hex"}}}');

    assert.deepEqual(policy.trigger, { kind: 'max-age', maxAgeMs: 30 * 86_400_000 });
    assert.deepEqual(policy.keys[0].spec, { generator: 'token', bytes: 48, encoding: 'hex', prefix: '' });
  });

  it('orders templates after the keys they read and lists every output', () => {
    const policy = ok(`
schedule: "@daily"
timeZone: Europe/Berlin
keys:
  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@db/app" }
  password: { generator: password, length: 24, classes: [lower, upper, digits] }
  signing.key: { generator: keypair, publicKey: signing.pub, sshPublicKey: signing.ssh }
`);

    assert.deepEqual(
      policy.keys.map((k) => k.key),
      ['password', 'DATABASE_URL', 'signing.key'],
    );
    assert.deepEqual(policy.rotatedKeys, ['DATABASE_URL', 'password', 'signing.key', 'signing.pub', 'signing.ssh']);
    assert.deepEqual(policy.keys[1].inputs, ['username', 'password']);
  });

  it('parses versioned policies, explicit consumers and rollout settings', () => {
    const policy = ok(`
maxAge: 7d
strategy: versioned
keepVersions: 4
keys: { API_KEY: token }
consumers: [deployment/api, sts/db, CronJob/report]
rollout: { waitReady: 90s, rollbackOnFailure: false }
`);

    assert.equal(policy.strategy, 'versioned');
    assert.equal(policy.keepVersions, 4);
    assert.deepEqual(policy.consumers, [
      { kind: 'Deployment', name: 'api' },
      { kind: 'StatefulSet', name: 'db' },
      { kind: 'CronJob', name: 'report' },
    ]);
    assert.deepEqual(policy.rollout, { restart: true, waitReadyMs: 90_000, rollbackOnFailure: false, forceRollback: false });
  });

  // Each row: policy text, the problems expected (substrings, each naming the field).
  const bad: Array<[string, string, string[]]> = [
    ['not YAML', 'keys: [1,\n b', ['(policy): not valid YAML or JSON']],
    ['not a mapping', '- a\n- b', ['(policy): expected a YAML or JSON mapping']],
    ['no trigger', 'keys: { p: password }', ['schedule: is required: give schedule (5-field cron) or maxAge']],
    ['both triggers', 'schedule: "@daily"\nmaxAge: 1d\nkeys: { p: password }', ['maxAge: give either schedule or maxAge, not both']],
    ['bad cron', 'schedule: "0 3 * *"\nkeys: { p: password }', ['schedule: invalid cron expression "0 3 * *": expected 5 fields']],
    ['bad zone', 'schedule: "@daily"\ntimeZone: Europe/Nowhere\nkeys: { p: password }', ['timeZone: unknown time zone "Europe/Nowhere"']],
    ['zone with maxAge', 'maxAge: 1d\ntimeZone: UTC\nkeys: { p: password }', ['timeZone: only applies to schedule']],
    ['bad maxAge', 'maxAge: 30 days\nkeys: { p: password }', ['maxAge: expected a duration']],
    ['typo in a field', 'schedul: "@daily"\nmaxAge: 1d\nkeys: { p: password }', ['schedul: unknown field']],
    ['unknown strategy', 'maxAge: 1d\nstrategy: blue-green\nkeys: { p: password }', ['strategy: expected one of "in-place"|"versioned"']],
    [
      'keepVersions without versioned',
      'maxAge: 1d\nkeepVersions: 3\nkeys: { p: password }',
      ['keepVersions: only applies to strategy versioned'],
    ],
    ['keepVersions too small', 'maxAge: 1d\nstrategy: versioned\nkeepVersions: 1\nkeys: { p: password }', ['keepVersions: Too small']],
    ['no keys', 'maxAge: 1d\nkeys: {}', ['keys: must name at least one data key']],
    [
      'unknown generator',
      'maxAge: 1d\nkeys: { p: passphrase }',
      ['keys.p.generator: unknown generator "passphrase" (one of password, token, uuid, keypair, tls, template)'],
    ],
    ['missing generator', 'maxAge: 1d\nkeys: { p: { length: 3 } }', ['keys.p.generator: is required']],
    ['password too short', 'maxAge: 1d\nkeys: { p: { generator: password, length: 4 } }', ['keys.p.length: Too small']],
    [
      'password too weak',
      'maxAge: 1d\nkeys: { p: { generator: password, length: 8, classes: [digits] } }',
      ['keys.p.length: gives 26.5 bits of entropy; at least 128 required: raise length to 39'],
    ],
    [
      'minEntropyBits below the floor',
      'maxAge: 1d\nkeys: { t: { generator: token, minEntropyBits: 32 } }',
      ['keys.t.minEntropyBits: cannot be below 64 bits'],
    ],
    ['unknown password field', 'maxAge: 1d\nkeys: { p: { generator: password, lenght: 12 } }', ['keys.p.lenght: unknown field']],
    [
      'exclusion empties a class',
      'maxAge: 1d\nkeys: { p: { generator: password, classes: [digits], exclude: "0123456789" } }',
      ['keys.p.exclude: excludes every character of class digits'],
    ],
    ['bad key name', 'maxAge: 1d\nkeys: { "a/b": password }', ['keys["a/b"]: is not a valid data key']],
    ['token encoding', 'maxAge: 1d\nkeys: { t: { generator: token, encoding: base32 } }', ['keys.t.encoding: expected one of']],
    [
      'tls without subject',
      'maxAge: 1d\nkeys: { tls.crt: { generator: tls } }',
      ['keys["tls.crt"].commonName: give commonName, dnsNames or ipAddresses'],
    ],
    [
      'tls bad SAN',
      'maxAge: 1d\nkeys: { tls.crt: { generator: tls, dnsNames: ["not a name"] } }',
      ['keys["tls.crt"].dnsNames[0]: expected a DNS name'],
    ],
    [
      'tls bad validity',
      'maxAge: 1d\nkeys: { tls.crt: { generator: tls, commonName: x, validity: 5m } }',
      ['keys["tls.crt"].validity: must be between 1h and 3650d'],
    ],
    [
      'tls private key location',
      'maxAge: 1d\nkeys: { cert.pem: { generator: tls, commonName: x } }',
      ['keys["cert.pem"].privateKey: is required unless the certificate key is tls.crt'],
    ],
    [
      'two generators write one key',
      'maxAge: 1d\nkeys: { tls.crt: { generator: tls, commonName: x }, tls.key: password }',
      ['keys["tls.key"]: writes data key tls.key, which keys.tls.crt also writes'],
    ],
    [
      'template syntax',
      'maxAge: 1d\nkeys: { url: { generator: template, template: "x{{ p | upper }}" } }',
      ['keys.url.template: unknown filter "upper"'],
    ],
    [
      'template cycle',
      'maxAge: 1d\nkeys: { a: { generator: template, template: "{{ b }}" }, b: { generator: template, template: "{{ a }}" } }',
      ['templates refer to each other in a cycle: a -> b -> a'],
    ],
    [
      'bad consumer',
      'maxAge: 1d\nkeys: { p: password }\nconsumers: [pod/x, deployment/Bad_Name]',
      ['consumers[0]: expected kind/name', 'consumers[1]: "Bad_Name" is not a valid object name'],
    ],
    [
      'versioned without restart',
      'maxAge: 1d\nstrategy: versioned\nkeys: { p: password }\nrollout: { restart: false }',
      ['rollout.restart: versioned rotation repoints consumers'],
    ],
    ['bad waitReady', 'maxAge: 1d\nkeys: { p: password }\nrollout: { waitReady: forever }', ['rollout.waitReady: expected a duration']],
    [
      'unknown backend',
      'maxAge: 1d\nkeys: { p: password }\nbackend: { name: postgres }',
      ['backend.name: unknown rotation backend "postgres" (none is installed in this build)'],
    ],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name}`, () => {
      const found = problems(text);

      for (const e of expected)
        assert.ok(
          found.some((f) => f.includes(e)),
          `expected "${e}" in:\n${found.join('\n')}`,
        );
    });
  }

  it('reports every problem at once, keys included when the top level is malformed', () => {
    const found = problems('schedule: 5\nstrategy: sideways\nkeys: { p: { generator: password, length: 2 }, q: nope }');

    assert.equal(found.length, 4, found.join('\n'));
  });

  it('validates backend settings through the registered backend', () => {
    const backend: RotationBackend<{ host: string }> = {
      name: 'fake-db',
      parseConfig: (raw) =>
        typeof raw.host === 'string' ? { config: { host: raw.host } } : { problems: [{ path: ['host'], message: 'is required' }] },
      set: async () => {},
      test: async () => {},
    };
    const registry = new BackendRegistry([backend as RotationBackend]);

    const good = ok('maxAge: 1d\nkeys: { p: password }\nbackend: { name: fake-db, host: db }', registry);
    const bad = problems('maxAge: 1d\nkeys: { p: password }\nbackend: { name: fake-db }', registry);

    assert.deepEqual(good.backend?.config, { host: 'db' });
    assert.deepEqual(bad, ['backend.host: is required']);
  });

  it('reads a rotation group, and refuses what a group cannot be', () => {
    const backend: RotationBackend = { name: 'fake-db', parseConfig: () => ({ config: {} }), set: async () => {}, test: async () => {} };
    const registry = new BackendRegistry([backend]);

    const good = ok('maxAge: 1d\nkeys: { p: password }\ngroup: { name: db-creds, members: [db-user, db-password] }');
    const bad = problems(
      'maxAge: 1d\nkeys: { p: password }\nbackend: { name: fake-db }\nrollout: { rollbackOnFailure: false }\ngroup: { name: db-creds, members: [a, a, shop/b] }',
      registry,
    );
    const alone = problems('maxAge: 1d\nkeys: { p: password }\ngroup: { name: Creds, members: [a] }');

    assert.deepEqual(good.group, { name: 'db-creds', members: ['db-password', 'db-user'] });
    assert.deepEqual(bad, [
      'group.members: names a member twice',
      "group.members[2]: \"shop/b\": members live in the group's namespace; name each by its Secret's name (versioned: the lineage's base name), without a namespace",
      'rollout.rollbackOnFailure: a rotation group is all or nothing: every member rolls back when one fails, so rollbackOnFailure: false is refused',
      "backend: a rotation group cannot include a Secret rotated through a backend (a database may already hold a member's new values when another fails); rotate it on its own",
    ]);
    assert.deepEqual(alone, [
      'group.name: expected a name of lowercase letters, digits and "-" (at most 63)',
      'group.members: a group has at least two members',
    ]);
  });

  it('counts the keys a backend writes itself as rotated keys, and refuses a generator for one', () => {
    const backend: RotationBackend = {
      name: 'alt-db',
      parseConfig: () => ({ config: {}, outputs: ['username'] }),
      prepare: () => new Map([['username', Buffer.from('app_clone')]]),
      set: async () => {},
      test: async () => {},
    };
    const registry = new BackendRegistry([backend]);

    const good = ok(
      'maxAge: 1d\nkeys: { password: password, url: { generator: template, template: "{{ username }}:{{ password }}" } }\nbackend: { name: alt-db }',
      registry,
    );
    const clash = problems('maxAge: 1d\nkeys: { password: password, username: token }\nbackend: { name: alt-db }', registry);

    assert.deepEqual(good.rotatedKeys, ['password', 'url', 'username']);
    assert.deepEqual(good.backend?.outputs, ['username']);
    assert.deepEqual(clash, ['keys.username: backend alt-db writes username itself; remove the generator for it']);
  });

  it('formats paths so that keys with dots stay readable', () => {
    assert.equal(formatPath(['keys', 'tls.crt', 'dnsNames', 0]), 'keys["tls.crt"].dnsNames[0]');
    assert.equal(formatPath(['rollout', 'waitReady']), 'rollout.waitReady');
    assert.equal(formatPath([]), '(policy)');
  });
});
