import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Folders never searched for Markdown: installed packages, build output, local runs. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage', '.sandbox', '.tmp']);

/** Every `*.md` file under `root`, as paths relative to it, in a stable order. */
export function markdownFiles(root: string, dir = root): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...markdownFiles(root, path));
    else if (entry.isFile() && entry.name.endsWith('.md')) found.push(relative(root, path));
  }
  return found.sort();
}

/** The text of a Markdown file outside fenced code blocks and code spans, line by line (code blanked, line numbers kept). */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return '';
    }
    if (marker !== undefined) {
      fence = marker;
      return '';
    }
    return line.replace(/(`+)[^`]*?\1/g, '');
  });
}

/**
 * The anchor GitHub gives a heading: its text as rendered (link targets, emphasis and code
 * marks dropped), lower-cased, punctuation removed, spaces turned into hyphens.
 */
export function headingSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors a Markdown file defines: one per heading (a repeated slug gets -1, -2, ...), plus explicit `<a id|name="...">`. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (marker !== undefined) {
      fence = marker;
      continue;
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = headingSlug(heading);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

/** The link targets of one file's prose: inline `[text](target)` and reference definitions `[label]: target`. */
export function linkTargets(text: string): { line: number; target: string }[] {
  const targets: { line: number; target: string }[] = [];
  proseLines(text).forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g))
      targets.push({ line: i + 1, target: m[1].replace(/^<|>$/g, '') });
    const def = /^\s{0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (def) targets.push({ line: i + 1, target: def[1].replace(/^<|>$/g, '') });
  });
  return targets;
}

/**
 * Every relative link in the given Markdown files (relative to `root`) whose file does not
 * exist, or whose `#anchor` is not a heading or anchor of the Markdown file it points to.
 * Links with a scheme (https:, mailto:) are not checked.
 */
export function brokenLinks(root: string, files: string[]): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchorsAt = (path: string) => {
    let anchors = anchorCache.get(path);
    if (anchors === undefined) {
      anchors = anchorsOf(readFileSync(path, 'utf8'));
      anchorCache.set(path, anchors);
    }
    return anchors;
  };
  const broken: string[] = [];
  for (const file of files) {
    const from = resolve(root, file);
    for (const { line, target } of linkTargets(readFileSync(from, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const hash = target.indexOf('#');
      const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
      const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const to = pathPart === '' ? from : resolve(dirname(from), pathPart);
      const where = `${file}:${line}: ${target}`;
      if (!existsSync(to)) {
        broken.push(`${where} (no such file: ${relative(root, to)})`);
        continue;
      }
      if (fragment === undefined || fragment === '' || statSync(to).isDirectory() || !to.endsWith('.md')) continue;
      if (!anchorsAt(to).has(fragment)) broken.push(`${where} (no heading or anchor "${fragment}" in ${relative(root, to)})`);
    }
  }
  return broken;
}
