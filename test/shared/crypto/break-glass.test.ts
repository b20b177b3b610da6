import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BackupLayout } from '../../../shared/backup/backup-layout.js';
import { BREAK_GLASS_RESTORE } from '../../../shared/crypto/break-glass.js';
import { markdownFiles } from '../../tooling/markdown-links.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/**
 * What is wrong with one line of documentation or output that shows a stock-tool restore, or
 * undefined: a decryption that writes plaintext to a file, or a gpg | gunzip | kubectl pipe
 * that is not BREAK_GLASS_RESTORE.
 */
function breakGlassProblem(shown: string): string | undefined {
  const line = shown.replaceAll('\\|', '|'); // a pipe escaped in a Markdown table renders as a pipe
  const decrypts = /\bgpg\b.*\s(?:--decrypt|-d)\b/.test(line);
  if (decrypts && /\bgpg\b.*\s(?:--decrypt|-d)\b[^|]*(?:\s>|\s-o\s|--output)/.test(line)) return 'writes the plaintext to a file';
  if ((decrypts && /\bgunzip\b/.test(line)) || /\bgunzip\s*\|\s*kubectl\b/.test(line)) {
    if (!line.includes(BREAK_GLASS_RESTORE)) return 'is not the break-glass line';
  }
  return undefined;
}

describe('shared/crypto/break-glass (one break-glass command line everywhere)', () => {
  it('names the first segment as the backup layout stores it', () => {
    const first = basename(new BackupLayout('prod').segmentKey('20261127T031500Z-3f9a1c', 1, 'gzip'));

    assert.ok(BREAK_GLASS_RESTORE.startsWith(`gpg --decrypt ${first} | gunzip | `), `${BREAK_GLASS_RESTORE} vs ${first}`);
  });

  const variants: [string, string | undefined][] = [
    [BREAK_GLASS_RESTORE, undefined],
    [`    ${BREAK_GLASS_RESTORE}   # the same line, indented and commented`, undefined],
    ['gpg --decrypt SEGMENT.pgp > SEGMENT   (asks for the passphrase)', 'writes the plaintext to a file'],
    ['gpg -d --output segment.json.gz segment-00001.json.gz.pgp', 'writes the plaintext to a file'],
    ['gpg --decrypt segment-00001.json.gz.pgp | gunzip | kubectl apply -f -', 'is not the break-glass line'],
    ['gpg --decrypt SEGMENT | gunzip | kubectl create -f -', 'is not the break-glass line'],
    ['zcat x | gunzip | kubectl replace -f -', 'is not the break-glass line'],
    ['| gzip | (break-glass: gpg --decrypt SEGMENT \\| gunzip \\| kubectl apply -f -). |', 'is not the break-glass line'],
    [`| in a table: ${BREAK_GLASS_RESTORE.replaceAll('|', '\\|')} |`, undefined],
    ['s3cmd get s3://bucket/secrets.json.gpg - | gpg --decrypt | jq . | kubectl create -f -', undefined],
    ['--from-file=recipient.asc=./keys/backups-prod.public.asc | kubectl apply -f -', undefined],
  ];
  for (const [line, problem] of variants) {
    it(`${problem ?? 'accepts'}: ${line.trim()}`, () => {
      assert.equal(breakGlassProblem(line), problem);
    });
  }

  it('README shows the line in its break-glass section', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Break-glass'));

    assert.ok(section.split('\n').includes(BREAK_GLASS_RESTORE), 'README "Break-glass" has no line that is exactly BREAK_GLASS_RESTORE');
  });

  it('no Markdown file (README, docs/, the generated docs/cli/ among them) shows another variant', () => {
    const files = markdownFiles(ROOT);
    assert.ok(files.includes(join('docs', 'cli', 'backup.md')), `unexpected file list: ${files.join(', ')}`);

    const problems = files.flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => {
          const problem = breakGlassProblem(line);
          return problem === undefined ? [] : [`${file}:${i + 1} ${problem}: ${line.trim()}`];
        }),
    );

    assert.deepEqual(problems, []);
  });

  it('backup --help shows it (docs/cli/backup.md is that help, kept equal by tooling/docs-cli)', () => {
    const page = readFileSync(join(ROOT, 'docs', 'cli', 'backup.md'), 'utf8');

    assert.ok(page.includes(BREAK_GLASS_RESTORE));
  });
});
