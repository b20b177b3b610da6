import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';

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
 * base64 and base64url. No plaintext is kept, and the index is a few numbers per pattern in
 * typed arrays, so registering every value of a large backup stays cheap:
 * - a set of 32-bit hashes of each pattern's first {@link MIN_REDACTABLE_LENGTH} characters
 *   (a quick filter, one lookup per character of a scanned line);
 * - the distinct pattern lengths;
 * - a set of 32-bit prefixes of each pattern's SHA-256, which confirms a match; for patterns
 *   over 64 characters, of the SHA-256 of their first 64 characters, with their length (so a
 *   large value costs no more to register than a small one, and a truncated copy still matches).
 * The sets are open-addressing hash tables in growable Uint32Arrays (4 bytes a slot, at least a
 * quarter of them empty), not `Set`s of numbers. A hash collision can only make the redactor
 * remove more, never less, and needs both hashes to collide at once.
 */
export class Redactor {
  private readonly prefixes = new HashSet32();
  /** Hashes of whole patterns up to {@link HEAD} characters long. */
  private readonly patterns = new HashSet32();
  /** Longer patterns: hash of their first {@link HEAD} characters -> their length. */
  private readonly heads = new HashMax32();
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
      this.heads.raise(patternHash(text.slice(0, HEAD)), length);
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
        const long = i + HEAD <= text.length && this.heads.size > 0 ? this.heads.get(patternHash(text.slice(i, i + HEAD))) : 0;
        if (long > 0) {
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

/** FNV-1a over the PREFIX UTF-16 code units at `at`, never 0 (the empty slot): the quick filter. */
function prefixHash(text: string, at: number): number {
  let h = 0x811c9dc5;
  for (let k = at; k < at + PREFIX; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/**
 * The first 32 bits of the pattern's SHA-256 (of its UTF-8), never 0 (the empty slot). One-shot
 * `crypto.hash`: a value registers several patterns, and a Hash object per pattern cost more
 * than the hashing.
 */
function patternHash(text: string): number {
  return hash('sha256', text, 'buffer').readUInt32BE(0) || 1;
}

/** Smallest table: 64 slots (256 bytes). */
const MIN_SLOTS = 64;

/** Slot where key `h` starts probing in a table of `mask + 1` slots (Fibonacci hashing: `h` may be a weak hash). */
function home(h: number, mask: number): number {
  return (Math.imul(h, 0x9e3779b1) >>> 0) & mask;
}

/**
 * A set of non-zero 32-bit numbers: open addressing with linear probing in one Uint32Array
 * (0 marks an empty slot), doubled when three quarters are used, so 5.3-10.7 bytes a member
 * where a `Set<number>` costs several machine words. Nothing is ever removed but by `clear`.
 */
class HashSet32 {
  private slots = new Uint32Array(MIN_SLOTS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(h: number): boolean {
    const { slots } = this;
    const mask = slots.length - 1;
    for (let i = home(h, mask); ; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === h) return true;
      if (s === 0) return false;
    }
  }

  add(h: number): void {
    if ((this.count + 1) * 4 > this.slots.length * 3) this.grow();
    const { slots } = this;
    const mask = slots.length - 1;
    for (let i = home(h, mask); ; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === h) return;
      if (s === 0) {
        slots[i] = h;
        this.count++;
        return;
      }
    }
  }

  clear(): void {
    this.slots = new Uint32Array(MIN_SLOTS);
    this.count = 0;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Uint32Array(old.length * 2);
    const mask = slots.length - 1;
    for (const h of old) {
      if (h === 0) continue;
      let i = home(h, mask);
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = h;
    }
    this.slots = slots;
  }
}

/** A map from non-zero 32-bit keys to the largest positive 32-bit value given for each, laid out as {@link HashSet32}. */
class HashMax32 {
  private keys = new Uint32Array(MIN_SLOTS);
  private values = new Uint32Array(MIN_SLOTS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The value of `h`, or 0 when it has none. */
  get(h: number): number {
    const { keys } = this;
    const mask = keys.length - 1;
    for (let i = home(h, mask); ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === h) return this.values[i];
      if (k === 0) return 0;
    }
  }

  /** Sets the value of `h` to `value` unless it already has a larger one. */
  raise(h: number, value: number): void {
    if ((this.count + 1) * 4 > this.keys.length * 3) this.grow();
    const { keys, values } = this;
    const mask = keys.length - 1;
    for (let i = home(h, mask); ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === h) {
        if (value > values[i]) values[i] = value;
        return;
      }
      if (k === 0) {
        keys[i] = h;
        values[i] = value;
        this.count++;
        return;
      }
    }
  }

  clear(): void {
    this.keys = new Uint32Array(MIN_SLOTS);
    this.values = new Uint32Array(MIN_SLOTS);
    this.count = 0;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const keys = new Uint32Array(oldKeys.length * 2);
    const values = new Uint32Array(keys.length);
    const mask = keys.length - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const h = oldKeys[j];
      if (h === 0) continue;
      let i = home(h, mask);
      while (keys[i] !== 0) i = (i + 1) & mask;
      keys[i] = h;
      values[i] = oldValues[j];
    }
    this.keys = keys;
    this.values = values;
  }
}

/** The text as it appears inside a JSON string (quotes, backslashes, control characters escaped). */
function jsonEscaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** The process-wide redactor used by the log stream, Events and error output. */
export const redactor = new Redactor();
