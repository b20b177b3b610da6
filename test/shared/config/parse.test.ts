import assert from 'node:assert/strict';
import { renderHelp } from '../../../shared/config/help.js';
import {
  booleanSetting,
  durationSetting,
  enumSetting,
  fileSetting,
  formatSize,
  integerSetting,
  parseDuration,
  parseSize,
  sizeSetting,
  stringSetting,
} from '../../../shared/config/options.js';
import { parseSettings, problemFor, shortFlags } from '../../../shared/config/parse.js';
import { ConfigError } from '../../../shared/errors/index.js';

const spec = {
  store: stringSetting({ description: 'Where backups go.', required: true, valueName: 'URL' }),
  namespace: stringSetting({ description: 'Namespaces.', repeatable: true }),
  dryRun: booleanSetting({ description: 'Plan only.', default: false }),
  keepLast: integerSetting({ description: 'Keep N.', min: 1 }),
  grace: durationSetting({ description: 'Grace.', default: 3_600_000 }),
  output: enumSetting(['text', 'json'], { description: 'Format.', default: 'text' }),
  recipientKey: fileSetting({ description: 'Key file.', repeatable: true }),
  kubeconfig: fileSetting({ description: 'Kubeconfig.', extraEnv: ['KUBECONFIG'] }),
} as const;

function problemsOf(fn: () => unknown): Array<{ setting: string; message: string }> {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('shared/config/parse', () => {
  it('parses flags in both spellings, repeatable options, booleans and defaults', () => {
    const { settings } = parseSettings(
      spec,
      ['--store', 's3://b/p', '--namespace=a', '--namespace', 'b', '--dry-run', '--keep-last', '3', '--output=json'],
      {},
    );

    assert.equal(settings.store, 's3://b/p');
    assert.deepEqual(settings.namespace, ['a', 'b']);
    assert.equal(settings.dryRun, true);
    assert.equal(settings.keepLast, 3);
    assert.equal(settings.grace, 3_600_000);
    assert.equal(settings.output, 'json');
    assert.deepEqual(settings.recipientKey, []);
  });

  it('reads SECRET_STEWARD_* variables, comma-separated for repeatable settings, and lets flags win', () => {
    const env = { SECRET_STEWARD_STORE: 's3://env/x', SECRET_STEWARD_NAMESPACE: 'a, b,c', SECRET_STEWARD_DRY_RUN: 'yes' };

    const fromEnv = parseSettings(spec, [], env).settings;
    const flagWins = parseSettings(spec, ['--store', 'file:///tmp/x', '--no-dry-run'], env).settings;

    assert.equal(fromEnv.store, 's3://env/x');
    assert.deepEqual(fromEnv.namespace, ['a', 'b', 'c']);
    assert.equal(fromEnv.dryRun, true);
    assert.equal(flagWins.store, 'file:///tmp/x');
    assert.equal(flagWins.dryRun, false);
    assert.deepEqual(flagWins.namespace, ['a', 'b', 'c']);
  });

  it('honours extra variables such as KUBECONFIG after its own', () => {
    assert.equal(parseSettings(spec, ['--store=x'], { KUBECONFIG: '/k' }).settings.kubeconfig, '/k');
    assert.equal(parseSettings(spec, ['--store=x'], { KUBECONFIG: '/k', SECRET_STEWARD_KUBECONFIG: '/own' }).settings.kubeconfig, '/own');
  });

  it('reports every problem at once, naming flag and variable and the expected form', () => {
    const problems = problemsOf(() =>
      parseSettings(spec, ['--keep-last', '0', '--grace', 'soon', '--output', 'xml', '--stroe', 'x', '--dry-run=maybe'], {}),
    );

    const text = problems.map((p) => `${p.setting}: ${p.message}`).join('\n');
    assert.equal(problems.length, 6, text);
    assert.match(text, /--store \/ SECRET_STEWARD_STORE: is required/);
    assert.match(text, /--keep-last \/ SECRET_STEWARD_KEEP_LAST: invalid value in --keep-last: expected an integer >= 1/);
    assert.match(text, /--grace .*expected a duration such as 90s/);
    assert.match(text, /--output .*expected one of text, json/);
    assert.match(text, /--stroe: unknown option \(did you mean --store\?\)/);
    assert.match(text, /--dry-run .*expected true or false/);
  });

  it('a repeatable setting with envContinuation keeps a comma inside a value read from the environment', () => {
    const keys = { key: fileSetting({ description: 'Key files.', repeatable: true, envContinuation: /^opt=/ }) };

    const { settings } = parseSettings(keys, [], { SECRET_STEWARD_KEY: 'a.asc,opt=1,opt=2, b.asc,c.asc,opt=3' });

    assert.deepEqual(settings.key, ['a.asc,opt=1,opt=2', 'b.asc', 'c.asc,opt=3']);
  });

  it('names the environment variable when the bad value came from there', () => {
    const problems = problemsOf(() => parseSettings(spec, ['--store=x'], { SECRET_STEWARD_KEEP_LAST: 'many' }));

    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /invalid value in SECRET_STEWARD_KEEP_LAST/);
  });

  it('never echoes a rejected value back (it may be a secret pasted by mistake)', () => {
    const canary = 'hunter2-canary-value';

    const problems = problemsOf(() =>
      parseSettings(spec, ['--store=x', '--keep-last', canary, canary, `--grace=${canary}`], { SECRET_STEWARD_OUTPUT: canary }),
    );

    assert.ok(problems.length >= 4);
    for (const p of problems) assert.ok(!`${p.setting} ${p.message}`.includes(canary), `${p.setting}: ${p.message}`);
  });

  it('rejects a single-valued option given twice and a flag missing its value', () => {
    const problems = problemsOf(() => parseSettings(spec, ['--store=a', '--store=b', '--keep-last'], {}));

    assert.deepEqual(
      problems.map((p) => p.message),
      ['needs a value (N)', 'given more than once; it takes one value'],
    );
  });

  it('runs cross-setting checks only when every setting parsed', () => {
    const validate = (s: { dryRun: boolean; keepLast?: number }) =>
      s.dryRun && s.keepLast === undefined ? [problemFor(spec, 'keepLast', 'required with --dry-run')] : [];

    const problems = problemsOf(() => parseSettings(spec, ['--store=x', '--dry-run'], {}, { validate }));
    const notRun = problemsOf(() => parseSettings(spec, ['--dry-run'], {}, { validate }));

    assert.deepEqual(problems, [{ setting: '--keep-last / SECRET_STEWARD_KEEP_LAST', message: 'required with --dry-run' }]);
    assert.equal(notRun.length, 1);
    assert.match(notRun[0].message, /is required/);
  });

  it('shows help whatever else is wrong', () => {
    const parsed = parseSettings(spec, ['--bogus', '-h', '--keep-last=zero'], {});

    assert.equal(parsed.help, true);
  });

  describe('kubectl-style short forms', () => {
    const short = {
      store: stringSetting({ description: 'Where backups go.', valueName: 'URL' }),
      namespace: stringSetting({ description: 'Namespaces.', short: 'n', repeatable: true }),
      selector: stringSetting({ description: 'Label selector.', short: 'l' }),
      output: enumSetting(['text', 'json'], { description: 'Format.', short: 'o', default: 'text' }),
      dryRun: booleanSetting({ description: 'Plan only.', default: false }),
    } as const;

    it('takes -x VALUE and -x=VALUE for every short form, mixed with long forms', () => {
      const table: Array<[string[], { namespace: string[]; selector?: string; output: string }]> = [
        [['-n', 'a'], { namespace: ['a'], selector: undefined, output: 'text' }],
        [['-n=a', '--namespace', 'b', '-n', 'c'], { namespace: ['a', 'b', 'c'], selector: undefined, output: 'text' }],
        [['-l', 'app=x,tier!=cache'], { namespace: [], selector: 'app=x,tier!=cache', output: 'text' }],
        [['-l=app=x'], { namespace: [], selector: 'app=x', output: 'text' }],
        [['-o', 'json'], { namespace: [], selector: undefined, output: 'json' }],
        [['-o=json', '--dry-run'], { namespace: [], selector: undefined, output: 'json' }],
      ];
      for (const [argv, want] of table) {
        const { settings } = parseSettings(short, argv, {});

        assert.deepEqual({ namespace: settings.namespace, selector: settings.selector, output: settings.output }, want, argv.join(' '));
      }
    });

    it('checks a short value like a long one, naming both forms', () => {
      const problems = problemsOf(() => parseSettings(short, ['-o', 'yaml'], {}));

      assert.deepEqual(problems, [
        { setting: '-o, --output / SECRET_STEWARD_OUTPUT', message: 'invalid value in --output: expected one of text, json' },
      ]);
    });

    it('reports a short form missing its value, also when another option follows', () => {
      const atEnd = problemsOf(() => parseSettings(short, ['-n'], {}));
      const beforeShort = problemsOf(() => parseSettings(short, ['-n', '-o', 'json'], {}));
      const beforeLong = problemsOf(() => parseSettings(short, ['-l', '--dry-run'], {}));

      assert.deepEqual(atEnd, [{ setting: '-n, --namespace / SECRET_STEWARD_NAMESPACE', message: 'needs a value (TEXT)' }]);
      assert.deepEqual(beforeShort, atEnd);
      assert.deepEqual(beforeLong, [{ setting: '-l, --selector / SECRET_STEWARD_SELECTOR', message: 'needs a value (TEXT)' }]);
    });

    it('rejects an unknown short form and -xVALUE, naming the letter only and listing the short forms', () => {
      const canary = 'CANARY-s3cr3t';

      const problems = problemsOf(() => parseSettings(short, ['-A', `-p${canary}`, `-n${canary}`], {}));

      assert.deepEqual(problems, [
        { setting: '-A', message: 'unknown option; options are spelled --name, short forms -n, -l, -o, -h (see --help)' },
        { setting: '-p', message: 'unknown option; options are spelled --name, short forms -n, -l, -o, -h (see --help)' },
        { setting: '-n, --namespace / SECRET_STEWARD_NAMESPACE', message: 'write -n VALUE or -n=VALUE' },
      ]);
    });

    it('takes -h for help in a table with short forms', () => {
      assert.equal(parseSettings(short, ['-n', 'a', '-h'], {}).help, true);
    });

    it('refuses a table whose short forms collide or take -h', () => {
      const twice = { a: stringSetting({ description: 'A.', short: 'n' }), b: stringSetting({ description: 'B.', short: 'n' }) };
      const help = { a: stringSetting({ description: 'A.', short: 'h' }) };
      const long = { a: stringSetting({ description: 'A.', short: 'ns' }) };

      assert.throws(() => parseSettings(twice, [], {}), /-n is both --a and --b/);
      assert.throws(() => shortFlags(help), /short form -h is not one letter other than h/);
      assert.throws(() => shortFlags(long), /short form -ns/);
      assert.deepEqual(
        [...shortFlags(short)],
        [
          ['n', 'namespace'],
          ['l', 'selector'],
          ['o', 'output'],
        ],
      );
    });
  });

  describe('renamed settings (formerly)', () => {
    const renamed = {
      reportSigningKey: fileSetting({ description: 'Report key.', formerly: { flag: 'signing-key', env: 'SECRET_STEWARD_SIGNING_KEY' } }),
    } as const;

    it('takes the former flag and variable, and reports each as deprecated with its new name', () => {
      const byFlag = parseSettings(renamed, ['--signing-key', '/k/flag.asc'], {});
      const byEnv = parseSettings(renamed, [], { SECRET_STEWARD_SIGNING_KEY: '/k/env.asc' });

      assert.equal(byFlag.settings.reportSigningKey, '/k/flag.asc');
      assert.deepEqual(byFlag.deprecations, [{ old: '--signing-key', new: '--report-signing-key' }]);
      assert.equal(byEnv.settings.reportSigningKey, '/k/env.asc');
      assert.deepEqual(byEnv.deprecations, [{ old: 'SECRET_STEWARD_SIGNING_KEY', new: 'SECRET_STEWARD_REPORT_SIGNING_KEY' }]);
    });

    it('prefers the new variable to the former one, without a warning', () => {
      const env = { SECRET_STEWARD_SIGNING_KEY: '/k/old.asc', SECRET_STEWARD_REPORT_SIGNING_KEY: '/k/new.asc' };

      const { settings, deprecations } = parseSettings(renamed, [], env);

      assert.equal(settings.reportSigningKey, '/k/new.asc');
      assert.deepEqual(deprecations, []);
    });

    it('names the former variable when its value is bad, and shows both former names in help', () => {
      const counted = { pageSize: integerSetting({ description: 'N.', min: 1, formerly: { env: 'SECRET_STEWARD_LIMIT' } }) } as const;

      const problems = problemsOf(() => parseSettings(counted, [], { SECRET_STEWARD_LIMIT: 'many' }));
      const help = renderHelp({ name: 'x', summary: 's', description: 'd' }, renamed);

      assert.match(problems[0].message, /invalid value in SECRET_STEWARD_LIMIT: expected an integer >= 1/);
      assert.match(help, /Formerly --signing-key \/ SECRET_STEWARD_SIGNING_KEY \(deprecated/);
    });
  });

  it('parses durations', () => {
    const table: Array<[string, number | undefined]> = [
      ['90s', 90_000],
      ['15m', 900_000],
      ['2h30m', 9_000_000],
      ['30d', 2_592_000_000],
      ['1w', 604_800_000],
      ['500ms', 500],
      ['', undefined],
      ['10', undefined],
      ['1y', undefined],
      ['-5m', undefined],
    ];
    for (const [raw, ms] of table) assert.equal(parseDuration(raw), ms, raw);
  });

  it('parses sizes as Kubernetes quantities are written (binary and decimal suffixes), and formats them back', () => {
    const table: Array<[string, number | undefined]> = [
      ['0', 0],
      ['4096', 4096],
      ['64Ki', 65_536],
      ['1536Mi', 1_610_612_736],
      ['2Gi', 2_147_483_648],
      ['1Ti', 1_099_511_627_776],
      ['500M', 500_000_000],
      ['3k', 3000],
      ['', undefined],
      ['1.5Gi', undefined],
      ['-1Mi', undefined],
      ['2GiB', undefined],
      ['2gi', undefined],
      ['1m', undefined],
      ['99999999999Ti', undefined],
    ];
    for (const [raw, bytes] of table) assert.equal(parseSize(raw), bytes, raw);
    assert.deepEqual([1_610_612_736, 2_147_483_648, 65_536, 500_000_000, 0].map(formatSize), ['1536Mi', '2Gi', '64Ki', '500000000', '0']);
  });

  it('rejects a malformed size naming the flag, the variable and the expected form', () => {
    const sized = { store: spec.store, spoolLimit: sizeSetting({ description: 'Spool.', default: 1536 * 1024 * 1024 }) } as const;

    const problems = problemsOf(() => parseSettings(sized, ['--store=x', '--spool-limit', '1.5Gi'], {}));
    const fromEnv = problemsOf(() => parseSettings(sized, ['--store=x'], { SECRET_STEWARD_SPOOL_LIMIT: '2 GB' }));

    assert.equal(parseSettings(sized, ['--store=x'], {}).settings.spoolLimit, 1_610_612_736);
    assert.equal(problems.length, 1);
    assert.match(problems[0].setting, /--spool-limit/);
    assert.match(problems[0].message, /expected a size in bytes such as 1536Mi/);
    assert.match(fromEnv[0].message, /invalid value in SECRET_STEWARD_SPOOL_LIMIT/);
  });
});

describe('shared/config/help', () => {
  it('lists every option with its variable, default and requirement', () => {
    const text = renderHelp(
      { name: 'backup', summary: 's', description: 'Backs things up.', examples: ['secret-steward backup --store s3://b'] },
      spec,
    );

    assert.match(text, /Usage: secret-steward backup \[options\]/);
    assert.match(text, /--store URL\n\s+Where backups go\. Required\. \[env SECRET_STEWARD_STORE\]/);
    assert.match(text, /--namespace TEXT \(repeatable\)/);
    assert.match(text, /--grace DURATION\n\s+Grace\. Default: 1h\./);
    assert.match(text, /\n {2}--output text\|json\n/);
    assert.match(text, /SECRET_STEWARD_KUBECONFIG, KUBECONFIG/);
    assert.match(
      renderHelp(
        { name: 'x', summary: 's', description: 'd.' },
        { output: enumSetting(['text', 'json'], { description: 'F.', short: 'o' }) },
      ),
      /\n {2}-o, --output text\|json\n/,
    );
    assert.match(text, /Examples:\n {2}secret-steward backup --store s3:\/\/b/);
  });
});
