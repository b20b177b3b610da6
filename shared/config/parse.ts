import { ConfigError, type ConfigProblem } from '../errors/index.js';
import { nearest } from './nearest.js';
import { envName, flagName, type Setting, type SettingsOf, type SettingsSpec, settingLabel, ValueError } from './options.js';

/** Where a value came from; used in problem messages (never the value itself). */
type Source = 'flag' | 'env';

export interface ParsedArgs<S extends SettingsSpec> {
  settings: SettingsOf<S>;
  /** Non-option arguments, in order (only for commands that take them). */
  positionals: string[];
  /** True when `--help`/`-h` was given; settings are then neither parsed nor validated. */
  help: boolean;
  /** Former names that were used (see `formerly`), for the command to log as deprecated. */
  deprecations: Deprecation[];
}

/** A setting given by a name it had before it was renamed: `--signing-key` for `--report-signing-key`. */
export interface Deprecation {
  /** The old flag (`--signing-key`) or environment variable. */
  old: string;
  /** The flag or environment variable to use instead. */
  new: string;
}

export interface ParseOptions<S extends SettingsSpec> {
  /** How many positional arguments the command accepts (default 0). */
  maxPositionals?: number;
  /**
   * Cross-setting checks, run only when every setting parsed; return problems to report.
   * Use {@link problemFor} to name the setting.
   */
  validate?: (settings: SettingsOf<S>) => ConfigProblem[];
}

/**
 * Parses command-line arguments and environment variables against a settings spec.
 * Flags win over environment variables. Every problem is collected; if there is any, one
 * {@link ConfigError} (exit code 2) lists them all, each naming the flag and variable and the
 * expected form. Values are never echoed back: a value may be a secret pasted by mistake.
 */
export function parseSettings<S extends SettingsSpec>(
  spec: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  options: ParseOptions<S> = {},
): ParsedArgs<S> {
  const problems: ConfigProblem[] = [];
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(spec)) byFlag.set(flagName(key), key);
  /** Old long flags (`formerly.flag`), accepted for their new setting with a warning. */
  const byOldFlag = new Map<string, string>();
  for (const [key, s] of Object.entries(spec)) {
    const old = s.formerly?.flag;
    if (old !== undefined && !byFlag.has(old)) byOldFlag.set(old, key);
  }
  const deprecations: Deprecation[] = [];
  const byShort = shortFlags(spec);
  const shortList = [...[...byShort.keys()].map((c) => `-${c}`), '-h'].join(', ');
  /** Whether an argument is an option rather than a value: `--name`, or one of this command's `-x`. */
  const isOption = (arg: string) =>
    (arg.startsWith('--') && arg.length > 2) || (/^-[A-Za-z]/.test(arg) && (byShort.has(arg[1]) || arg[1] === 'h'));

  const flagValues = new Map<string, string[]>();
  const positionals: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    let key: string | undefined;
    let inline: string | undefined;
    if (!arg.startsWith('--')) {
      if (!arg.startsWith('-') || arg.length === 1) {
        positionals.push(arg);
        continue;
      }
      // `-n VALUE` or `-n=VALUE`, as kubectl takes them. Only the letter is ever echoed back:
      // whatever follows it may be a value, and a value may be a secret.
      const letter = arg[1];
      const rest = arg.slice(2);
      key = byShort.get(letter);
      if (key === undefined) {
        problems.push({
          setting: `-${letter}`,
          message: `unknown option; options are spelled --name, short forms ${shortList} (see --help)`,
        });
        continue;
      }
      if (rest !== '' && !rest.startsWith('=')) {
        problems.push({ setting: settingLabel(key, spec[key]), message: `write -${letter} VALUE or -${letter}=VALUE` });
        continue;
      }
      inline = rest === '' ? undefined : rest.slice(1);
    } else {
      const eq = arg.indexOf('=');
      let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      key = byFlag.get(name);
      if (key === undefined && byOldFlag.has(name)) {
        key = byOldFlag.get(name)!;
        deprecations.push({ old: `--${name}`, new: `--${flagName(key)}` });
      }
      if (key === undefined && name.startsWith('no-') && byFlag.has(name.slice(3)) && inline === undefined) {
        const k = byFlag.get(name.slice(3))!;
        if (spec[k].boolean) {
          key = k;
          name = name.slice(3);
          inline = 'false';
        }
      }
      if (key === undefined) {
        const suggestion = nearest(name, [...byFlag.keys()])[0];
        problems.push({
          setting: `--${name}`,
          message: `unknown option${suggestion ? ` (did you mean --${suggestion}?)` : ''}; see --help`,
        });
        // Skip a following value so it is not taken for a positional.
        if (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('-')) i++;
        continue;
      }
    }
    const s = spec[key];
    let value: string;
    if (inline !== undefined) {
      value = inline;
    } else if (s.boolean) {
      value = 'true';
    } else if (i + 1 < argv.length && !isOption(argv[i + 1])) {
      value = argv[++i];
    } else if (s.bareValue !== undefined) {
      value = s.bareValue;
    } else {
      problems.push({ setting: settingLabel(key, s), message: `needs a value (${s.valueName ?? 'VALUE'})` });
      continue;
    }
    const list = flagValues.get(key) ?? [];
    list.push(value);
    flagValues.set(key, list);
  }

  if (positionals.length > (options.maxPositionals ?? 0)) {
    problems.push({
      setting: `argument ${(options.maxPositionals ?? 0) + 1}`,
      message: `unexpected argument (not shown, in case it is a secret); options are spelled --name VALUE, short forms ${shortList} (see --help)`,
    });
  }

  // Help wins over every problem: `cmd --help --whatever` shows the help.
  if (help) return { settings: {} as SettingsOf<S>, positionals, help, deprecations };

  const settings: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const resolved = resolve(key, s, flagValues.get(key), env);
    if (resolved?.formerEnv !== undefined) deprecations.push({ old: resolved.formerEnv, new: envName(key) });
    if (resolved === undefined) {
      if (s.required) {
        problems.push({ setting: settingLabel(key, s), message: `is required (${s.valueName ?? 'VALUE'}): ${s.description}` });
      }
      settings[key] = s.repeatable ? (s.default ?? []) : s.default;
      continue;
    }
    const { raws, source, formerEnv } = resolved;
    if (!s.repeatable && raws.length > 1) {
      problems.push({ setting: settingLabel(key, s), message: 'given more than once; it takes one value' });
      continue;
    }
    const parsed: unknown[] = [];
    for (const raw of raws) {
      try {
        parsed.push(s.parse(raw));
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        const where = source === 'flag' ? `--${flagName(key)}` : (formerEnv ?? envName(key));
        problems.push({ setting: settingLabel(key, s), message: `invalid value in ${where}: expected ${e.expected}` });
      }
    }
    settings[key] = s.repeatable ? parsed : parsed[0];
  }

  if (problems.length === 0 && options.validate) {
    problems.push(...options.validate(settings as SettingsOf<S>));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { settings: settings as SettingsOf<S>, positionals, help, deprecations };
}

/**
 * A settings table's short forms, letter -> key. A letter used twice, `h` (help) or anything but
 * one ASCII letter is a mistake in the table, not in the command line: it throws.
 */
export function shortFlags(spec: SettingsSpec): Map<string, string> {
  const byShort = new Map<string, string>();
  for (const [key, s] of Object.entries(spec)) {
    if (s.short === undefined) continue;
    if (!/^[A-Za-z]$/.test(s.short) || s.short === 'h')
      throw new Error(`--${flagName(key)}: short form -${s.short} is not one letter other than h`);
    const other = byShort.get(s.short);
    if (other !== undefined) throw new Error(`-${s.short} is both --${flagName(other)} and --${flagName(key)}`);
    byShort.set(s.short, key);
  }
  return byShort;
}

/** Names a setting in a cross-setting problem. */
export function problemFor<S extends SettingsSpec>(spec: S, key: keyof S & string, message: string): ConfigProblem {
  return { setting: settingLabel(key, spec[key]), message };
}

function resolve(
  key: string,
  s: Setting<unknown>,
  fromFlags: string[] | undefined,
  env: NodeJS.ProcessEnv,
): { raws: string[]; source: Source; formerEnv?: string } | undefined {
  if (fromFlags !== undefined) return { raws: fromFlags, source: 'flag' };
  if (s.env === false) return undefined;
  const former = s.formerly?.env;
  for (const name of [envName(key), ...(s.extraEnv ?? []), ...(former === undefined ? [] : [former])]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const raws = s.repeatable
      ? raw
          .split(/[,\n]/)
          .map((x) => x.trim())
          .filter((x) => x !== '')
          .reduce<string[]>((all, x) => {
            if (s.envContinuation?.test(x) && all.length > 0) all[all.length - 1] += `,${x}`;
            else all.push(x);
            return all;
          }, [])
      : [raw];
    return { raws, source: 'env', ...(name === former ? { formerEnv: name } : {}) };
  }
  return undefined;
}
