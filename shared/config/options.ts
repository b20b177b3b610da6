/**
 * Declarative settings. Every setting is a flag (`--store`) and an environment variable with
 * the one documented prefix (`SECRET_STEWARD_STORE`); a flag wins over the variable. Each
 * setting parses its raw text itself and reports the expected form when it cannot, so that
 * `parseSettings` can report every problem of a run at once.
 */

/** The documented environment prefix. */
export const ENV_PREFIX = 'SECRET_STEWARD_';

/** Thrown by a setting's parser: `expected` completes "expected ..." in the problem message. */
export class ValueError extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

export interface SettingSpec<T> {
  /** Help text: what it does, in one or two sentences. */
  description: string;
  /**
   * The kubectl-style one-letter form, e.g. `n` for `-n VALUE` / `-n=VALUE`. Kept to the letters
   * kubectl users reach for (`-n` namespace, `-l` selector, `-o` output); unique within a
   * command, and never `h` (help). `-nVALUE` and combined letters are not accepted.
   */
  short?: string;
  /** Placeholder in help, e.g. `URL`, `FILE`, `CRON`. Absent for booleans. */
  valueName?: string;
  /** Value when given neither as a flag nor in the environment. */
  default?: T;
  /** How the default is shown in help when it is not a plain value. */
  defaultText?: string;
  /** The run cannot start without it. */
  required?: boolean;
  /** May be given several times (flag) or comma-separated (env). */
  repeatable?: boolean;
  /**
   * For a repeatable setting whose values may hold commas: a comma-separated piece of the
   * environment variable that matches continues the previous value instead of starting one
   * (`a.asc,notAfter=T,b.asc` is two values).
   */
  envContinuation?: RegExp;
  /** Other environment variables honoured after our own (e.g. `KUBECONFIG`). */
  extraEnv?: readonly string[];
  /** `false` when the setting has no environment variable. */
  env?: boolean;
  /**
   * The names this setting had before it was renamed, still honoured after its own names with a
   * deprecation warning that names the old and the new name: `flag` is an old long flag
   * (without `--`), `env` an old environment variable.
   */
  formerly?: { readonly flag?: string; readonly env?: string };
  /** Section heading in help. */
  group?: string;
  /** Every value the setting accepts, when they are few (an enum): shell completion offers them. */
  choices?: readonly string[];
  /** Parses one raw value (one occurrence); throw {@link ValueError} with the expected form. */
  parse: (raw: string) => T;
  /** Boolean flags take no value (`--dry-run`, `--no-dry-run`). */
  boolean?: boolean;
  /**
   * What the flag means when given without a value (followed by another flag or nothing), for
   * a setting that was once a boolean flag and now takes values (`--allow-unsigned` = `all`).
   */
  bareValue?: string;
}

/** A setting whose parsed value is `T` (or `T[]` when repeatable). */
export interface Setting<T> extends SettingSpec<T> {
  readonly __type?: T;
}

export type SettingsSpec = Record<string, Setting<unknown>>;

type ValueOf<S> =
  S extends Setting<infer T>
    ? S extends { repeatable: true }
      ? T[]
      : S extends { default: unknown }
        ? T
        : S extends { required: true }
          ? T
          : T | undefined
    : never;

/** Keys of the settings that may be absent: neither required, nor defaulted, nor repeatable. */
type OptionalKeys<S extends SettingsSpec> = { [K in keyof S]: undefined extends ValueOf<S[K]> ? K : never }[keyof S];

/**
 * The typed configuration object a spec produces; keys are the camel-cased flag names, and a
 * setting that may be absent is an optional key. A group of settings (`storeSettings`,
 * `kubeSettings`, ...) spread into a command's table gives a `SettingsOf` that the group's own
 * `SettingsOf` accepts, so code written for a group takes any command's settings as they are.
 */
export type SettingsOf<S extends SettingsSpec> = Flatten<
  { -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: ValueOf<S[K]> } & { -readonly [K in OptionalKeys<S>]?: ValueOf<S[K]> }
>;

type Flatten<T> = { [K in keyof T]: T[K] };

/** `--s3-endpoint` <-> key `s3Endpoint`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** key `s3Endpoint` -> `SECRET_STEWARD_S3_ENDPOINT`. */
export function envName(key: string): string {
  return ENV_PREFIX + flagName(key).replace(/-/g, '_').toUpperCase();
}

/** How a setting is named in problems: `--store / SECRET_STEWARD_STORE`, `-n, --namespace / ...`. */
export function settingLabel(key: string, spec: SettingSpec<unknown>): string {
  const names = [`${spec.short === undefined ? '' : `-${spec.short}, `}--${flagName(key)}`];
  if (spec.env !== false) names.push(envName(key));
  if (spec.extraEnv) names.push(...spec.extraEnv);
  return names.join(' / ');
}

// ---------------------------------------------------------------------------------------------
// Builders. Each returns a Setting with the literal flags preserved for type inference.

type Common<T> = Omit<SettingSpec<T>, 'parse' | 'boolean'>;

export function stringSetting<const O extends Common<string>>(o: O & { pattern?: RegExp; expected?: string }): O & Setting<string> {
  return {
    valueName: 'TEXT',
    ...o,
    parse: (raw: string) => {
      if (raw.length === 0) throw new ValueError(o.expected ?? 'a non-empty value');
      if (o.pattern && !o.pattern.test(raw)) throw new ValueError(o.expected ?? `a value matching ${o.pattern}`);
      return raw;
    },
  };
}

/** A path to a file. Only the path is configuration: contents are read by the job, never by flags. */
export function fileSetting<const O extends Common<string>>(o: O): O & Setting<string> {
  return {
    valueName: 'FILE',
    ...o,
    parse: (raw: string) => {
      if (raw.length === 0) throw new ValueError('a file path');
      return raw;
    },
  };
}

export function booleanSetting<const O extends Common<boolean>>(o: O): O & Setting<boolean> {
  return {
    ...o,
    boolean: true,
    parse: (raw: string) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      throw new ValueError('true or false');
    },
  };
}

export function integerSetting<const O extends Common<number>>(o: O & { min?: number; max?: number }): O & Setting<number> {
  return {
    valueName: 'N',
    ...o,
    parse: (raw: string) => {
      const form = `an integer${o.min !== undefined ? ` >= ${o.min}` : ''}${o.max !== undefined ? ` <= ${o.max}` : ''}`;
      if (!/^-?\d+$/.test(raw.trim())) throw new ValueError(form);
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
        throw new ValueError(form);
      }
      return n;
    },
  };
}

export function numberSetting<const O extends Common<number>>(o: O & { min?: number; max?: number }): O & Setting<number> {
  return {
    valueName: 'NUMBER',
    ...o,
    parse: (raw: string) => {
      const form = `a number${o.min !== undefined ? ` >= ${o.min}` : ''}${o.max !== undefined ? ` <= ${o.max}` : ''}`;
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
        throw new ValueError(form);
      }
      return n;
    },
  };
}

export function enumSetting<const V extends string, const O extends Common<V>>(values: readonly V[], o: O): O & Setting<V> {
  return {
    valueName: values.join('|'),
    choices: values,
    ...o,
    parse: (raw: string) => {
      if (!(values as readonly string[]).includes(raw)) throw new ValueError(`one of ${values.join(', ')}`);
      return raw as V;
    },
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90s`, `15m`, `2h30m`, `30d`, `1w` into milliseconds; `undefined` when malformed. */
export function parseDuration(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]];
  return total;
}

/** Formats milliseconds as the largest whole units, e.g. `1d2h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}

/** A duration such as `15m`, `36h`, `30d`; the value is milliseconds. */
export function durationSetting<const O extends Common<number>>(o: O): O & Setting<number> {
  return {
    valueName: 'DURATION',
    ...(o.default !== undefined ? { defaultText: formatDuration(o.default) } : {}),
    ...o,
    parse: (raw: string) => {
      const ms = parseDuration(raw);
      if (ms === undefined) throw new ValueError('a duration such as 90s, 15m, 36h, 30d or 1w');
      return ms;
    },
  };
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/**
 * Parses a size in bytes as Kubernetes writes quantities (`sizeLimit: 2Gi`): a whole number with
 * an optional binary (`Ki`, `Mi`, `Gi`, `Ti`) or decimal (`k`, `M`, `G`, `T`) suffix, e.g.
 * `1536Mi`, `500M`, `0`; `undefined` when malformed.
 */
export function parseSize(raw: string): number | undefined {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(raw.trim());
  if (m === null) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2] ?? ''];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Formats bytes in the largest binary unit that divides them, e.g. `1536Mi`, `2Gi`, `1000`. */
export function formatSize(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'] as const) {
    if (bytes > 0 && bytes % SIZE_UNITS[unit] === 0) return `${bytes / SIZE_UNITS[unit]}${unit}`;
  }
  return String(bytes);
}

/** A size such as `1536Mi` or `2Gi` (see {@link parseSize}); the value is bytes. */
export function sizeSetting<const O extends Common<number>>(o: O): O & Setting<number> {
  return {
    valueName: 'SIZE',
    ...(o.default !== undefined ? { defaultText: formatSize(o.default) } : {}),
    ...o,
    parse: (raw: string) => {
      const bytes = parseSize(raw);
      if (bytes === undefined)
        throw new ValueError('a size in bytes such as 1536Mi, 2Gi or 500M (a whole number, suffix Ki, Mi, Gi, Ti, k, M, G or T)');
      return bytes;
    },
  };
}

/** A setting parsed by a custom function that throws {@link ValueError}. */
export function customSetting<T, const O extends Common<T>>(o: O & { valueName: string; parse: (raw: string) => T }): O & Setting<T> {
  return o;
}
