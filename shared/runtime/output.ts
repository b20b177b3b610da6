import { stringify } from 'yaml';
import { enumSetting } from '../config/options.js';

/**
 * What `-o` may ask for, as kubectl users know it: `text` (the default) and `wide` (the same
 * table with more columns) for a person, `json` and `yaml` for a program. `json` and `yaml` are
 * one and the same document, which carries its `format` version.
 */
export type OutputFormat = 'text' | 'wide' | 'json' | 'yaml' | 'manifests';

/** A versioned `-o json` / `-o yaml` document. */
export interface OutputDocument {
  /** `secret-steward.io/<command>/v<N>`: changes when the document changes incompatibly. */
  format: string;
}

/**
 * The `-o, --output` setting of a command. `wide` only where the command prints a table with
 * more columns to show; `manifests` only where it can print Kubernetes objects to apply (its
 * description says when), which are not a versioned document.
 */
export function outputSetting(o: { description: string; wide: boolean; manifests?: string; group?: string }) {
  const formats: OutputFormat[] = o.wide ? ['text', 'wide', 'json', 'yaml'] : ['text', 'json', 'yaml'];
  if (o.manifests !== undefined) formats.push('manifests');
  return enumSetting(formats, {
    short: 'o',
    description: `${o.description}${o.wide ? ' wide: the table with more columns.' : ''} json and yaml: the same document, with its format version.${o.manifests !== undefined ? ` manifests: ${o.manifests}` : ''}`,
    default: 'text',
    group: o.group ?? 'Output',
  });
}

/** True for the formats that print the document rather than a text for a person. */
export function isDocumentOutput(output: OutputFormat): output is 'json' | 'yaml' {
  return output === 'json' || output === 'yaml';
}

/**
 * The document as `-o json` or `-o yaml` prints it. `omit` names fields left out wherever they
 * occur (digests that stay inside the encrypted backup).
 */
export function renderDocument<D extends OutputDocument>(doc: D, output: 'json' | 'yaml', omit: ReadonlySet<string> = new Set()): string {
  // Through JSON first, so that both forms hold exactly the same values (dates as ISO text,
  // undefined fields left out, toJSON honoured).
  const json = JSON.stringify(doc, (k, v) => (omit.has(k) ? undefined : v), 2);
  if (output === 'json') return `${json}\n`;
  return stringify(JSON.parse(json), { lineWidth: 0 });
}

/**
 * {@link renderDocument} in pieces of about `chunkChars`, for a document with one long list
 * (`listKey`): with `-o json` the list is rendered an element at a time, so that the whole text
 * of a restore of 100,000 Secrets is never held at once. The pieces joined are exactly what
 * renderDocument returns; `-o yaml` is rendered whole.
 */
export function* documentChunks<D extends OutputDocument>(
  doc: D,
  output: 'json' | 'yaml',
  listKey: keyof D & string,
  omit: ReadonlySet<string> = new Set(),
  chunkChars = 64 * 1024,
): Generator<string> {
  const list = doc[listKey];
  if (output !== 'json' || !Array.isArray(list) || list.length === 0) {
    yield renderDocument(doc, output, omit);
    return;
  }
  const replacer = (k: string, v: unknown) => (omit.has(k) ? undefined : v);
  const placeholder = `\u0000${listKey}\u0000`;
  const marker = JSON.stringify(placeholder);
  const outer = JSON.stringify({ ...doc, [listKey]: placeholder }, replacer, 2);
  const at = outer.indexOf(marker);
  let piece = `${outer.slice(0, at)}[\n`;
  for (let i = 0; i < list.length; i++) {
    piece += `    ${JSON.stringify(list[i], replacer, 2).replace(/\n/g, '\n    ')}${i < list.length - 1 ? ',\n' : '\n  ]'}`;
    if (piece.length >= chunkChars) {
      yield piece;
      piece = '';
    }
  }
  yield `${piece}${outer.slice(at + marker.length)}\n`;
}

/** Where command output goes: `process.stdout`, or a test's stand-in (which may not be a stream). */
interface OutputSink {
  write(text: string): unknown;
  once?(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
}

/**
 * Writes `pieces` in order, waiting for `drain` whenever the sink says its buffer is full.
 * `process.stdout` on a pipe (a container's stdout is one) writes asynchronously on POSIX
 * (Node's "A note on process I/O"), so without waiting every piece of a long document is
 * queued in memory at once: 120 MiB of buffers at the end of a 100,000-Secret restore's
 * `-o json`. A sink that closes or fails ends the wait (the rest is written into nothing, as before).
 */
export async function writePieces(out: OutputSink, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (out.write(piece) !== false || out.once === undefined) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        for (const event of ['drain', 'close', 'error']) out.off?.(event, done);
        resolve();
      };
      for (const event of ['drain', 'close', 'error']) out.once?.(event, done);
    });
  }
}
