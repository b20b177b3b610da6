import assert from 'node:assert/strict';
import { COMMANDS } from '../../jobs/commands.js';
import { envName, flagName, type Setting, type SettingsSpec } from '../../shared/config/options.js';
import { parseSettings, shortFlags } from '../../shared/config/parse.js';
import { ConfigError } from '../../shared/errors/index.js';

/** The kubectl letters, and the only long option each may stand for. */
const KUBECTL_SHORT: Record<string, string> = { n: '--namespace', l: '--selector', o: '--output', A: '--all-namespaces' };

describe('jobs/commands (short forms)', () => {
  for (const c of COMMANDS) {
    it(`${c.help.name}: short forms are unique, not -h, and mean what they mean in kubectl`, () => {
      const byShort = shortFlags(c.settings);

      for (const [letter, key] of byShort) assert.equal(`--${flagName(key)}`, KUBECTL_SHORT[letter], `-${letter}`);
    });
  }

  it('every --namespace, --selector and --output has its short form', () => {
    const missing = COMMANDS.flatMap((c) =>
      Object.entries(c.settings as SettingsSpec)
        .filter(([key, s]) => Object.values(KUBECTL_SHORT).includes(`--${flagName(key)}`) && s.short === undefined)
        .map(([key]) => `${c.help.name} --${flagName(key)}`),
    );

    assert.deepEqual(missing, []);
  });
});

describe('jobs/commands (-A, -o)', () => {
  const withNamespace = COMMANDS.filter((c) => 'namespace' in c.settings);
  /** Problems naming -A when the command line is parsed and checked (other problems, such as a missing --store, left aside). */
  const allNamespacesProblems = (c: (typeof COMMANDS)[number], argv: string[]) => {
    // The required settings of backup and restore, so that the cross-setting checks run.
    const env = {
      SECRET_STEWARD_CLUSTER_NAME: 'prod',
      SECRET_STEWARD_STORE: 'file:///backups',
      SECRET_STEWARD_RECIPIENT_KEY: '/keys/backup.asc',
      SECRET_STEWARD_SIGNING_KEY: '/keys/signing.asc',
      SECRET_STEWARD_DECRYPTION_KEY: '/keys/restore.asc',
    };
    try {
      parseSettings(c.settings, argv, env, { validate: c.validate });
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.problems.filter((p) => p.setting.startsWith('-A,'));
    }
  };

  it('every command with -n takes -A, and only those', () => {
    const withA = COMMANDS.filter((c) => 'allNamespaces' in c.settings).map((c) => c.help.name);

    assert.deepEqual(
      withA,
      withNamespace.map((c) => c.help.name),
    );
    assert.deepEqual(withA, ['rotate', 'backup', 'restore', 'status', 'secret-age']);
  });

  for (const c of withNamespace) {
    it(`${c.help.name}: -A alone is every namespace; with -n it is a configuration error`, () => {
      assert.deepEqual(allNamespacesProblems(c, ['-A']), []);
      assert.deepEqual(
        allNamespacesProblems(c, ['-A', '-n', 'payments']).map((p) => p.message),
        ['not with --namespace (-A is every namespace)'],
      );
    });
  }

  it('every -o takes text, json and yaml; wide only where a table has more columns to show; manifests only where a plan prints objects', () => {
    const formats = Object.fromEntries(
      COMMANDS.filter((c) => 'output' in c.settings).map((c) => [c.help.name, (c.settings as SettingsSpec).output.valueName]),
    );

    assert.deepEqual(formats, {
      rotate: 'text|json|yaml',
      backup: 'text|json|yaml',
      'verify-restore': 'text|json|yaml|manifests',
      restore: 'text|json|yaml',
      prune: 'text|json|yaml',
      rekey: 'text|json|yaml',
      'list-backups': 'text|wide|json|yaml',
      adopt: 'text|json|yaml',
      status: 'text|json|yaml',
      'secret-age': 'text|wide|json|yaml',
      check: 'text|json|yaml',
    });
  });
});

/**
 * Environment variables that several commands' tables define separately (each with its own
 * description) and that nonetheless mean one thing, so that one ConfigMap can set them for every
 * job. Any other variable defined twice means two things, and one of the two needs a new name.
 */
const ONE_MEANING: Record<string, string> = {
  SECRET_STEWARD_NAMESPACE: 'only the Secrets of these namespaces',
  SECRET_STEWARD_SELECTOR: 'only the Secrets matching this label selector',
  SECRET_STEWARD_ALL_NAMESPACES: 'every namespace, as without --namespace',
  SECRET_STEWARD_DRY_RUN: 'write nothing, print what would be done',
  SECRET_STEWARD_OUTPUT: 'the format of stdout',
  SECRET_STEWARD_CLUSTER_NAME: "this cluster's name (store prefix, metrics label)",
  SECRET_STEWARD_STORE: 'where the backups are kept',
  SECRET_STEWARD_RECIPIENT_KEY: 'the public keys backups are encrypted to',
  SECRET_STEWARD_TRUSTED_SIGNER_KEY: "the backup job's public signing key",
  SECRET_STEWARD_KEY_EXPIRY_WARNING: 'how early to warn about an expiring key',
  SECRET_STEWARD_PAGE_SIZE: 'Secrets per list request',
  SECRET_STEWARD_BACKUP: 'the backup(s) the command acts on, by id',
  SECRET_STEWARD_BACKUP_SCHEDULE: "the backup CronJob's schedule",
  SECRET_STEWARD_BACKUP_TIMEZONE: "the backup CronJob's time zone",
  SECRET_STEWARD_FRESHNESS_GRACE: 'how late a scheduled backup may be',
  SECRET_STEWARD_SIGNING_KEY: "the backup job's private signing key",
  SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE: "the passphrase of the backup job's signing key",
  SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY: "the restore job's private signing key",
  SECRET_STEWARD_PRE_RESTORE_SIGNING_KEY_PASSPHRASE_FILE: "the passphrase of the restore job's signing key",
  SECRET_STEWARD_DECRYPTION_KEY: 'the private keys that decrypt backups (check: the same files, checked)',
  SECRET_STEWARD_DECRYPTION_KEY_PASSPHRASE_FILE: 'the passphrase of those keys',
  SECRET_STEWARD_DRILL_NAMESPACE: "the drill's namespace (check: where its permissions are checked)",
  SECRET_STEWARD_DEEP_CHECK_CYCLE:
    'how often every retained backup must be verified (verify-restore deep-checks to keep it; status reports the backups outside it, by default with the cycle the newest drill used)',
  SECRET_STEWARD_FLEET_CLUSTER:
    "the source clusters of a DR site's fleet, in order (verify-restore drills one, status and list-backups show all)",
};

/** Every environment variable of every command's table, with the distinct settings that define it. */
function settingsByVariable(): Map<string, Map<Setting<unknown>, string[]>> {
  const byVariable = new Map<string, Map<Setting<unknown>, string[]>>();
  for (const c of COMMANDS) {
    for (const [key, s] of Object.entries(c.settings as SettingsSpec)) {
      for (const variable of [...(s.env === false ? [] : [envName(key)]), ...(s.extraEnv ?? [])]) {
        const settings = byVariable.get(variable) ?? new Map<Setting<unknown>, string[]>();
        settings.set(s, [...(settings.get(s) ?? []), `${c.help.name} --${flagName(key)}`]);
        byVariable.set(variable, settings);
      }
    }
  }
  return byVariable;
}

describe('jobs/commands (environment variables)', () => {
  it('no environment variable means two different settings', () => {
    const twoMeanings = [...settingsByVariable()]
      .filter(([variable, settings]) => settings.size > 1 && ONE_MEANING[variable] === undefined)
      .map(([variable, settings]) => `${variable}: ${[...settings.values()].map((users) => users.join(', ')).join(' / ')}`);

    assert.deepEqual(twoMeanings, []);
  });

  it('every variable listed as one meaning is defined by several settings', () => {
    const byVariable = settingsByVariable();

    const stale = Object.keys(ONE_MEANING).filter((variable) => (byVariable.get(variable)?.size ?? 0) < 2);

    assert.deepEqual(stale, []);
  });

  it("a setting's former name is not a current name of the same command", () => {
    const problems: string[] = [];

    for (const c of COMMANDS) {
      const keys = Object.keys(c.settings);
      for (const [key, s] of Object.entries(c.settings as SettingsSpec)) {
        const { flag, env } = s.formerly ?? {};
        if (flag !== undefined && keys.some((k) => flagName(k) === flag)) problems.push(`${c.help.name} --${flagName(key)}: --${flag}`);
        if (env !== undefined && keys.some((k) => envName(k) === env)) problems.push(`${c.help.name} --${flagName(key)}: ${env}`);
      }
    }

    assert.deepEqual(problems, []);
  });
});
