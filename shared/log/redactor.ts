import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';

/** Placeholder written wherever a secret value or a sensitive field was removed. */
export const REDACTED = '[REDACTED]';

/**
 * Field names whose values are always replaced, whatever they hold (compared
 * case-insensitively, ignoring `-` and `_`). Kept exact rather than fuzzy on purpose:
 * fields such as `secrets` (a count) or `secretName` must stay readable.
 */
const SENSITIVE_FIELDS = new Set(
  [
    'password',
    'passwd',
    'passphrase',
    'token',
    'accessToken',
    'refreshToken',
    'bearerToken',
    'sessionToken',
    'authorization',
    'cookie',
    'privateKey',
    'secretKey',
    'secretAccessKey',
    'apiKey',
    'credentials',
    'data',
    'stringData',
    'value',
    'values',
    'plaintext',
  ].map(normaliseField),
);

function normaliseField(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/** True when a structured-log field of this name must never be written. */
export function isSensitiveField(name: string): boolean {
  return SENSITIVE_FIELDS.has(normaliseField(name));
}

/** Values shorter than this are not registered: they cannot be told apart from ordinary text. */
export const MIN_REDACTABLE_LENGTH = 6;
const PREFIX = MIN_REDACTABLE_LENGTH;
/** Patterns longer than this are indexed by their first HEAD characters (a multiple of 4). */
const HEAD = 64;

/**
 * Removes registered secret values from text. Every value the tool generates or decrypts is
 * registered the moment it exists; the log stream, the Event recorder and error reporting
 * pass their text through {@link Redactor.sanitize}.
 *
 * A value is registered in the forms it can take in our output: as text, JSON-escaped,
 * base64 and base64url. No plaintext is kept, and the index is a few numbers per pattern,
 * so registering every value of a large backup stays cheap:
 * - a set of 30-bit hashes of each pattern's first {@link MIN_REDACTABLE_LENGTH} characters
 *   (a quick filter, one lookup per character of a scanned line);
 * - the distinct pattern lengths;
 * - a set of 30-bit prefixes of each pattern's SHA-256, which confirms a match; for patterns
 *   over 64 characters, of the SHA-256 of their first 64 characters, with their length (so a
 *   large value costs no more to register than a small one, and a truncated copy still matches).
 * 30 bits keep the numbers small integers that V8 stores unboxed. A hash collision can only
 * make the redactor remove more, never less, and needs both hashes to collide at once.
 */
export class Redactor {
  private readonly prefixes = new Set<number>();
  /** Hashes of whole patterns up to {@link HEAD} characters long. */
  private readonly patterns = new Set<number>();
  /** Longer patterns: hash of their first {@link HEAD} characters -> their length. */
  private readonly heads = new Map<number, number>();
  /** Distinct lengths of the short patterns, longest first (a match prefers the longest). */
  private lengths: number[] = [];

  /** Number of distinct patterns registered (all forms). */
  get size(): number {
    return this.patterns.size + this.heads.size;
  }

  /**
   * Forgets every registered value. Only for tests that run several jobs in one process: each
   * run must start with what a fresh process would know, or a value one run registered would
   * hide another run's failure to register it.
   */
  clear(): void {
    this.prefixes.clear();
    this.patterns.clear();
    this.heads.clear();
    this.lengths = [];
  }

  /** Registers a secret value (text or bytes) in all the forms it may appear in. */
  register(value: string | Uint8Array): void {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.length < MIN_REDACTABLE_LENGTH) return;
    const text = typeof value === 'string' ? value : isUtf8(bytes) ? bytes.toString('utf8') : undefined;
    if (text !== undefined) {
      this.addPattern(text);
      this.addPattern(jsonEscaped(text));
      // A multi-line value (a PEM key) may show up one line at a time.
      if (text.includes('\n')) {
        for (const line of text.split(/\r?\n/)) this.addPattern(line);
      }
    }
    // The base64 forms: only their head is needed for a long value (48 bytes -> 64 characters).
    const head = bytes.subarray(0, (HEAD / 4) * 3);
    const b64 = 4 * Math.ceil(bytes.length / 3);
    this.addPattern(bytes.length === head.length ? bytes.toString('base64') : head.toString('base64'), b64);
    this.addPattern(
      bytes.length === head.length ? bytes.toString('base64url') : head.toString('base64url'),
      Math.ceil((bytes.length * 4) / 3),
    );
  }

  /** Adds a pattern, given whole or (when `length` is larger) by its first HEAD characters. */
  private addPattern(text: string, length = text.length): void {
    if (length < MIN_REDACTABLE_LENGTH) return;
    this.prefixes.add(prefixHash(text, 0));
    if (length > HEAD) {
      const key = patternHash(text.slice(0, HEAD));
      this.heads.set(key, Math.max(this.heads.get(key) ?? 0, length));
      return;
    }
    this.patterns.add(patternHash(text));
    if (!this.lengths.includes(length)) {
      this.lengths.push(length);
      this.lengths.sort((a, b) => b - a);
    }
  }

  /**
   * Returns `text` with every registered value replaced by {@link REDACTED}. A long value
   * (over 64 characters in the form that appears) is recognised by its first 64 characters and
   * removed up to its full length or the end of the text, so a truncated copy is removed too.
   */
  sanitize(text: string): string {
    if (this.size === 0 || text.length < MIN_REDACTABLE_LENGTH) return text;
    let out: string[] | undefined;
    let copiedUpTo = 0;
    let i = 0;
    while (i + PREFIX <= text.length) {
      let matched = 0;
      if (this.prefixes.has(prefixHash(text, i))) {
        const long = i + HEAD <= text.length && this.heads.size > 0 ? this.heads.get(patternHash(text.slice(i, i + HEAD))) : undefined;
        if (long !== undefined) {
          matched = Math.min(long, text.length - i);
        } else {
          for (const length of this.lengths) {
            if (i + length <= text.length && this.patterns.has(patternHash(text.slice(i, i + length)))) {
              matched = length;
              break;
            }
          }
        }
      }
      if (matched > 0) {
        out ??= [];
        out.push(text.slice(copiedUpTo, i), REDACTED);
        i += matched;
        copiedUpTo = i;
      } else {
        i++;
      }
    }
    if (out === undefined) return text;
    out.push(text.slice(copiedUpTo));
    return out.join('');
  }

  /**
   * Returns a deep copy of a structured value with sensitive fields replaced and registered
   * values removed from strings. Used for log records and Event messages.
   */
  sanitizeValue(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.sanitize(value);
    if (value === null || typeof value !== 'object' || depth > 12) return value;
    if (value instanceof Error) return value;
    if (Array.isArray(value)) return value.map((v) => this.sanitizeValue(v, depth + 1));
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.length} bytes>`;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSensitiveField(k) && v !== undefined ? REDACTED : this.sanitizeValue(v, depth + 1);
    }
    return out;
  }
}

/** FNV-1a over the PREFIX UTF-16 code units at `at`, folded to 30 bits: the quick filter. */
function prefixHash(text: string, at: number): number {
  let h = 0x811c9dc5;
  for (let k = at; k < at + PREFIX; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 2;
}

/** The first 30 bits of the pattern's SHA-256. */
function patternHash(text: string): number {
  return createHash('sha256').update(text, 'utf8').digest().readUInt32BE(0) >>> 2;
}

/** The text as it appears inside a JSON string (quotes, backslashes, control characters escaped). */
function jsonEscaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** The process-wide redactor used by the log stream, Events and error output. */
export const redactor = new Redactor();
