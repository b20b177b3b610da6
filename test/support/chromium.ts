import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandRuns } from './dependencies.js';

const run = promisify(execFile);

/** True when Debian's headless-capable `chromium` is installed. */
export function hasChromium(): boolean {
  return commandRuns('chromium', ['--version']);
}

export const CHROMIUM_INSTALL = 'apt-get install --no-install-recommends chromium';

/**
 * Runs headless Chromium once on `file` with `args` (its own profile under `dir`, so parallel
 * runs never share one; `--no-sandbox` because CI runs as root). Returns stdout.
 */
async function chromium(dir: string, file: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${join(dir, 'chromium-profile')}`,
      ...args,
      `file://${file}`,
    ],
    { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** The DOM after Chromium parsed (and would have run the scripts of) the page. */
export function dumpDom(dir: string, file: string): Promise<string> {
  return chromium(dir, file, ['--dump-dom']);
}

/** A PNG screenshot of the page at `path`. */
export async function screenshot(dir: string, file: string, path: string, size = '1200,1600'): Promise<void> {
  await chromium(dir, file, [`--screenshot=${path}`, `--window-size=${size}`, '--hide-scrollbars']);
}

/** The page printed to PDF at `path`, as "print to PDF" in a browser does. */
export async function printToPdf(dir: string, file: string, path: string): Promise<void> {
  await chromium(dir, file, [`--print-to-pdf=${path}`, '--no-pdf-header-footer']);
}

/** The text of an HTML document: tags dropped, entities of the escaping kind decoded, white space collapsed. */
export function textOf(html: string): string {
  return html
    .replace(/<(style|title)[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}
