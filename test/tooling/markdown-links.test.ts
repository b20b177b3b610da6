import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { brokenLinks, headingSlug, markdownFiles } from './markdown-links.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('tooling/markdown-links (every relative link and anchor in the Markdown files resolves)', () => {
  describe('the checker', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ss-links-'));
      mkdirSync(join(dir, 'docs'));
      mkdirSync(join(dir, 'node_modules'));
      writeFileSync(
        join(dir, 'docs', 'guide.md'),
        ['# Guide', '', '## `status`: where every Secret stands', '', '## Limits', '', '## Limits', '', '<a id="custom"></a>', ''].join(
          '\n',
        ),
      );
      writeFileSync(join(dir, 'node_modules', 'ignored.md'), '[broken](nowhere.md)\n');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const cases: { name: string; text: string; broken: string[] }[] = [
      { name: 'a link to a file that exists', text: '[g](docs/guide.md)', broken: [] },
      { name: 'a link to a folder that exists', text: '[d](docs/)', broken: [] },
      { name: 'a heading anchor as GitHub spells it', text: '[s](docs/guide.md#status-where-every-secret-stands)', broken: [] },
      { name: 'the second heading of the same text', text: '[l](docs/guide.md#limits-1)', broken: [] },
      { name: 'an explicit anchor', text: '[c](docs/guide.md#custom)', broken: [] },
      { name: 'an anchor of the file itself', text: '# Top\n\n[t](#top)', broken: [] },
      { name: 'an external link', text: '[k](https://kubernetes.io/docs/#nowhere)', broken: [] },
      { name: 'a link inside a code span or a fenced block', text: '`[x](missing.md)`\n\n```\n[y](missing.md)\n```', broken: [] },
      {
        name: 'a missing file',
        text: 'see [m](docs/missing.md)',
        broken: ['README.md:1: docs/missing.md (no such file: docs/missing.md)'],
      },
      {
        name: 'a missing anchor',
        text: '\n[s](docs/guide.md#status)',
        broken: ['README.md:2: docs/guide.md#status (no heading or anchor "status" in docs/guide.md)'],
      },
      {
        name: 'a missing anchor of the file itself',
        text: '# Top\n[b](#bottom)',
        broken: ['README.md:2: #bottom (no heading or anchor "bottom" in README.md)'],
      },
      {
        name: 'a reference definition to a missing file',
        text: '[r]: ./gone.md',
        broken: ['README.md:1: ./gone.md (no such file: gone.md)'],
      },
    ];
    for (const c of cases) {
      it(`${c.broken.length === 0 ? 'accepts' : 'reports'} ${c.name}`, () => {
        writeFileSync(join(dir, 'README.md'), `${c.text}\n`);

        const broken = brokenLinks(dir, ['README.md']);

        assert.deepEqual(broken, c.broken);
      });
    }

    it('searches every folder but node_modules', () => {
      assert.deepEqual(markdownFiles(dir), ['README.md', join('docs', 'guide.md')]);
    });

    it('spells anchors as GitHub does', () => {
      assert.equal(headingSlug('Database credentials (backend `postgresql`)'), 'database-credentials-backend-postgresql');
      assert.equal(headingSlug('The sandbox (`npm start`)'), 'the-sandbox-npm-start');
      assert.equal(headingSlug('See [the guide](guide.md) first'), 'see-the-guide-first');
    });
  });

  it('no Markdown file of the repository has a broken relative link or anchor', () => {
    const files = markdownFiles(ROOT);
    assert.ok(files.includes('README.md') && files.includes(join('docs', 'rotation.md')), `unexpected file list: ${files.join(', ')}`);

    assert.deepEqual(brokenLinks(ROOT, files), []);
  });
});
