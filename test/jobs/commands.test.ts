import assert from 'node:assert/strict';
import { COMMANDS } from '../../jobs/commands.js';
import { flagName, type SettingsSpec } from '../../shared/config/options.js';
import { shortFlags } from '../../shared/config/parse.js';

/** The kubectl letters, and the only long option each may stand for. */
const KUBECTL_SHORT: Record<string, string> = { n: '--namespace', l: '--selector', o: '--output' };

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
