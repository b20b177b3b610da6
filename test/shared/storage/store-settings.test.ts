import assert from 'node:assert/strict';
import { renderHelp } from '../../../shared/config/help.js';
import { parseSettings } from '../../../shared/config/parse.js';
import { ConfigError } from '../../../shared/errors/index.js';
import {
  objectLockRetentionMs,
  parseStoreUrl,
  type StoreSettings,
  storeSettings,
  validateStoreSettings,
} from '../../../shared/storage/store-settings.js';

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): StoreSettings {
  return parseSettings(storeSettings, argv, env, { validate: validateStoreSettings }).settings;
}

function problems(argv: string[], env: NodeJS.ProcessEnv = {}): Array<{ setting: string; message: string }> {
  try {
    parse(argv, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('shared/storage/store-settings', () => {
  describe('--store', () => {
    const good: Array<[string, ReturnType<typeof parseStoreUrl>]> = [
      ['s3://my-bucket', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
      ['s3://my-bucket/', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
      ['s3://my.bucket-1/backups/prod', { kind: 's3', bucket: 'my.bucket-1', prefix: 'backups/prod' }],
      ['s3://b12/backups/prod/', { kind: 's3', bucket: 'b12', prefix: 'backups/prod' }],
      ['file:///var/backups', { kind: 'file', dir: '/var/backups' }],
      ['file:///var/backups/', { kind: 'file', dir: '/var/backups' }],
      ['file:///data/with%20space', { kind: 'file', dir: '/data/with space' }],
    ];
    for (const [raw, expected] of good) {
      it(`parses ${raw}`, () => {
        assert.deepEqual(parseStoreUrl(raw), expected);
      });
    }

    const bad: Array<[string, RegExp]> = [
      ['', /expected s3:\/\/bucket\[\/prefix\] or file:\/\/\/absolute\/dir/],
      ['my-bucket/backups', /expected s3:\/\/bucket/],
      ['https://my-bucket.s3.amazonaws.com', /expected s3:\/\/bucket/],
      ['s3://AKIAEXAMPLE:wJalrXUtnFEMI@my-bucket/x', /no credentials in the URL/],
      ['s3://Upper_Case', /valid bucket name/],
      ['s3://ab', /valid bucket name/],
      ['s3://192.168.1.10', /valid bucket name/],
      ['s3://bucket/a//b', /no empty, \. or \.\. segment/],
      ['s3://bucket/../x', /no empty, \. or \.\. segment/],
      ['s3://bucket/x?versionId=1', /without \?query/],
      ['file://relative/dir', /three slashes and no host/],
      ['file:///', /other than \//],
    ];
    for (const [raw, expected] of bad) {
      it(`refuses ${JSON.stringify(raw)} naming the flag, without echoing the value`, () => {
        const found = problems(['--store', raw]);

        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0].setting, '--store / SECRET_STEWARD_STORE');
        assert.match(found[0].message, expected);
        if (raw.length > 8) assert.ok(!found[0].message.includes(raw), 'the raw value is not echoed');
        assert.ok(!found[0].message.includes('wJalrXUtnFEMI'));
      });
    }

    it('is required', () => {
      const found = problems([]);

      assert.deepEqual(
        found.map((p) => p.setting),
        ['--store / SECRET_STEWARD_STORE'],
      );
      assert.match(found[0].message, /is required/);
    });
  });

  describe('values', () => {
    it('has the documented defaults', () => {
      const s = parse(['--store', 's3://bucket']);

      assert.equal(s.s3Region, 'us-east-1');
      assert.equal(s.s3Checksum, 'when-required');
      assert.equal(s.s3PartSize, 16);
      assert.equal(s.s3MaxAttempts, 5);
      assert.equal(s.s3ForcePathStyle, false);
      assert.equal(s.s3Endpoint, undefined);
    });

    it('takes the region from AWS_REGION, then AWS_DEFAULT_REGION, below our own variable and flag', () => {
      assert.equal(parse(['--store', 's3://bucket'], { AWS_DEFAULT_REGION: 'eu-west-2' }).s3Region, 'eu-west-2');
      assert.equal(parse(['--store', 's3://bucket'], { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-2' }).s3Region, 'eu-west-1');
      assert.equal(
        parse(['--store', 's3://bucket'], { SECRET_STEWARD_S3_REGION: 'ap-south-1', AWS_REGION: 'eu-west-1' }).s3Region,
        'ap-south-1',
      );
      assert.equal(parse(['--store', 's3://bucket', '--s3-region', 'us-west-2'], { AWS_REGION: 'eu-west-1' }).s3Region, 'us-west-2');
    });

    it('reads every setting from SECRET_STEWARD_* variables', () => {
      const s = parse([], {
        SECRET_STEWARD_STORE: 's3://bucket/p',
        SECRET_STEWARD_S3_ENDPOINT: 'https://minio.storage.svc:9000/',
        SECRET_STEWARD_S3_CA_FILE: '/etc/secret-steward/store-ca.pem',
        SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
        SECRET_STEWARD_S3_CHECKSUM: 'when-supported',
        SECRET_STEWARD_S3_SSE: 'aws:kms',
        SECRET_STEWARD_S3_SSE_KMS_KEY_ID: 'alias/backups',
        SECRET_STEWARD_S3_STORAGE_CLASS: 'STANDARD_IA',
        SECRET_STEWARD_S3_OBJECT_LOCK_MODE: 'GOVERNANCE',
        SECRET_STEWARD_S3_OBJECT_LOCK_DAYS: '30',
        SECRET_STEWARD_S3_PART_SIZE: '64',
        SECRET_STEWARD_S3_MAX_ATTEMPTS: '3',
      });

      assert.deepEqual(s, {
        store: { kind: 's3', bucket: 'bucket', prefix: 'p' },
        s3Endpoint: 'https://minio.storage.svc:9000',
        s3CaFile: '/etc/secret-steward/store-ca.pem',
        s3Region: 'us-east-1',
        s3ForcePathStyle: true,
        s3Checksum: 'when-supported',
        s3Sse: 'aws:kms',
        s3SseKmsKeyId: 'alias/backups',
        s3StorageClass: 'STANDARD_IA',
        s3ObjectLockMode: 'GOVERNANCE',
        s3ObjectLockDays: 30,
        // The days' alternative: giving both is refused (below).
        s3ObjectLockRetention: undefined,
        s3PartSize: 64,
        s3MaxAttempts: 3,
      });
    });

    it('reports every bad value at once, each with its flag and the expected form', () => {
      const found = problems([
        '--store',
        'ftp://x',
        '--s3-endpoint',
        'https://user:pass@minio:9000',
        '--s3-region',
        'EU WEST',
        '--s3-checksum',
        'always',
        '--s3-sse',
        'aws:kms:dsse',
        '--s3-storage-class',
        'GLACIER',
        '--s3-object-lock-mode',
        'governance',
        '--s3-object-lock-days',
        '0',
        '--s3-part-size',
        '4',
        '--s3-max-attempts',
        '0',
      ]);

      const byFlag = Object.fromEntries(found.map((p) => [p.setting.split(' ')[0], p.message]));
      assert.deepEqual(Object.keys(byFlag).sort(), [
        '--s3-checksum',
        '--s3-endpoint',
        '--s3-max-attempts',
        '--s3-object-lock-days',
        '--s3-object-lock-mode',
        '--s3-part-size',
        '--s3-region',
        '--s3-sse',
        '--s3-storage-class',
        '--store',
      ]);
      assert.match(byFlag['--s3-endpoint'], /without credentials/);
      assert.ok(!byFlag['--s3-endpoint'].includes('pass'));
      assert.match(byFlag['--s3-checksum'], /one of when-required, when-supported/);
      assert.match(byFlag['--s3-storage-class'], /cannot be read without a restore/);
      assert.match(byFlag['--s3-object-lock-mode'], /one of GOVERNANCE, COMPLIANCE/);
      assert.match(byFlag['--s3-object-lock-days'], />= 1/);
      assert.match(byFlag['--s3-part-size'], />= 5/);
      assert.match(byFlag['--s3-max-attempts'], />= 1/);
    });
  });

  describe('cross-setting problems (validateStoreSettings)', () => {
    const cases: Array<{ name: string; argv: string[]; expected: Array<[string, RegExp]> }> = [
      {
        name: 'a KMS key id without aws:kms',
        argv: ['--store', 's3://bucket', '--s3-sse-kms-key-id', 'alias/k'],
        expected: [['--s3-sse-kms-key-id', /needs --s3-sse aws:kms/]],
      },
      {
        name: 'a KMS key id with AES256',
        argv: ['--store', 's3://bucket', '--s3-sse', 'AES256', '--s3-sse-kms-key-id', 'alias/k'],
        expected: [['--s3-sse-kms-key-id', /needs --s3-sse aws:kms/]],
      },
      {
        name: 'an Object Lock mode without days',
        argv: ['--store', 's3://bucket', '--s3-object-lock-mode', 'COMPLIANCE'],
        expected: [['--s3-object-lock-mode', /needs --s3-object-lock-days/]],
      },
      {
        name: 'an Object Lock retention without a mode',
        argv: ['--store', 's3://bucket', '--s3-object-lock-retention', '90s'],
        expected: [['--s3-object-lock-retention', /needs --s3-object-lock-mode/]],
      },
      {
        name: 'Object Lock days and a retention both',
        argv: [
          '--store',
          's3://bucket',
          '--s3-object-lock-mode',
          'GOVERNANCE',
          '--s3-object-lock-days',
          '7',
          '--s3-object-lock-retention',
          '7d',
        ],
        expected: [['--s3-object-lock-retention', /either --s3-object-lock-days or --s3-object-lock-retention, not both/]],
      },
      {
        name: 'an Object Lock retention under a second',
        argv: ['--store', 's3://bucket', '--s3-object-lock-mode', 'GOVERNANCE', '--s3-object-lock-retention', '500ms'],
        expected: [['--s3-object-lock-retention', /from 1s to 36500d/]],
      },
      {
        name: 'a CA file without an https:// endpoint',
        argv: ['--store', 's3://bucket', '--s3-endpoint', 'http://rgw:7480', '--s3-ca-file', '/etc/ca.pem'],
        expected: [['--s3-ca-file', /needs an https:\/\/ --s3-endpoint/]],
      },
      {
        name: 'Object Lock days without a mode',
        argv: ['--store', 's3://bucket', '--s3-object-lock-days', '7'],
        expected: [['--s3-object-lock-days', /needs --s3-object-lock-mode/]],
      },
      {
        name: 'S3-only settings with a file store, all reported together',
        argv: [
          '--store',
          'file:///var/backups',
          '--s3-endpoint',
          'http://minio:9000',
          '--s3-force-path-style',
          '--s3-sse',
          'AES256',
          '--s3-storage-class',
          'STANDARD',
          '--s3-object-lock-mode',
          'GOVERNANCE',
          '--s3-object-lock-days',
          '3',
        ],
        expected: [
          ['--s3-endpoint', /only to an s3:\/\/ --store/],
          ['--s3-sse', /only to an s3:\/\/ --store/],
          ['--s3-storage-class', /only to an s3:\/\/ --store/],
          ['--s3-object-lock-mode', /only to an s3:\/\/ --store/],
          ['--s3-object-lock-days', /only to an s3:\/\/ --store/],
          ['--s3-force-path-style', /only to an s3:\/\/ --store/],
        ],
      },
      {
        name: 'the newer S3-only settings with a file store',
        argv: [
          '--store',
          'file:///var/backups',
          '--s3-ca-file',
          '/etc/ca.pem',
          '--s3-object-lock-mode',
          'GOVERNANCE',
          '--s3-object-lock-retention',
          '1d',
        ],
        expected: [
          ['--s3-ca-file', /only to an s3:\/\/ --store/],
          ['--s3-object-lock-mode', /only to an s3:\/\/ --store/],
          ['--s3-object-lock-retention', /only to an s3:\/\/ --store/],
        ],
      },
    ];
    for (const c of cases) {
      it(`reports ${c.name}`, () => {
        const found = problems(c.argv);

        assert.equal(found.length, c.expected.length, JSON.stringify(found));
        for (const [flag, message] of c.expected) {
          const p = found.find((x) => x.setting.startsWith(`${flag} `));
          assert.ok(p, `no problem for ${flag}: ${JSON.stringify(found)}`);
          assert.match(p.message, message);
        }
      });
    }

    it('accepts a complete, consistent S3 configuration', () => {
      const s = parse([
        '--store',
        's3://bucket/backups',
        '--s3-sse',
        'aws:kms',
        '--s3-sse-kms-key-id',
        'arn:aws:kms:eu-west-1:111122223333:key/abc',
        '--s3-object-lock-mode',
        'COMPLIANCE',
        '--s3-object-lock-days',
        '35',
      ]);

      assert.equal(s.s3ObjectLockDays, 35);
      assert.equal(objectLockRetentionMs(s), 35 * 86_400_000);
    });

    it('accepts an Object Lock retention as a duration (seconds for tests) and a CA file for an https:// endpoint', () => {
      const s = parse([
        '--store',
        's3://bucket',
        '--s3-endpoint',
        'https://rgw.storage.svc:7443',
        '--s3-ca-file',
        '/etc/secret-steward/store-ca.pem',
        '--s3-object-lock-mode',
        'COMPLIANCE',
        '--s3-object-lock-retention',
        '90s',
      ]);

      assert.equal(s.s3ObjectLockRetention, 90_000);
      assert.equal(objectLockRetentionMs(s), 90_000);
      assert.equal(s.s3CaFile, '/etc/secret-steward/store-ca.pem');
      assert.equal(objectLockRetentionMs(parse(['--store', 's3://bucket'])), undefined);
    });
  });

  describe('credentials', () => {
    for (const flag of [
      '--s3-access-key-id',
      '--aws-access-key-id',
      '--aws-secret-access-key',
      '--s3-secret-access-key',
      '--s3-session-token',
    ]) {
      it(`has no ${flag} flag, and does not echo the value given to it`, () => {
        const found = problems(['--store', 's3://bucket', flag, 'wJalrXUtnFEMI/K7MDENG']);

        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0].setting, flag);
        assert.match(found[0].message, /unknown option/);
        assert.ok(!JSON.stringify(found).includes('wJalrXUtnFEMI'));
      });
    }

    it('help says where credentials come from', () => {
      const help = renderHelp({ name: 'backup', summary: 's', description: 'd' }, storeSettings);

      assert.match(help, /--s3-checksum/);
      assert.match(help, /AWS_SHARED_CREDENTIALS_FILE/);
      assert.ok(!/--s3-(access|secret)/.test(help));
    });
  });
});
