import assert from 'node:assert/strict';
import type { CommandHelp } from '../../../shared/config/help.js';
import { booleanSetting, durationSetting, enumSetting, fileSetting, stringSetting } from '../../../shared/config/options.js';
import { markdownText, referenceFiles, renderReference, renderReferenceIndex } from '../../../shared/config/reference.js';

const help: CommandHelp = {
  name: 'backup',
  summary: 'Back things up.',
  description: 'Writes <name>.asc files.\nChecks, in order:\n1. one\n2. two',
  examples: ['secret-steward backup --store s3://b'],
  notes: ['Exit codes: 0 fine.'],
};

const spec = {
  store: stringSetting({ description: 'Where backups go.', required: true, valueName: 'URL', group: 'Store' }),
  output: enumSetting(['text', 'json'], { description: 'Format.', default: 'text' }),
  grace: durationSetting({ description: 'Grace.', default: 3_600_000 }),
  dryRun: booleanSetting({ description: 'Plan only.', default: false }),
  recipientKey: fileSetting({ description: 'Key file.', repeatable: true, group: 'Store' }),
  kubeconfig: fileSetting({ description: 'Kubeconfig.', extraEnv: ['KUBECONFIG'] }),
  hidden: stringSetting({ description: 'Flag only.', env: false }),
} as const;

describe('shared/config/reference', () => {
  it('renders one table row per option, grouped like --help, with variables and defaults', () => {
    const md = renderReference(help, spec);

    assert.match(
      md,
      /^<!-- Generated from jobs\/backup\.ts and its settings by `npm run docs:cli`\. Do not edit\. -->\n\n# `secret-steward backup`\n/,
    );
    assert.match(md, /```\nsecret-steward backup \[options\]\n```/);
    assert.match(
      md,
      /### Store\n\n\| Option \| Environment \| Default \| Description \|\n\| --- \| --- \| --- \| --- \|\n\| `--store URL` \| `SECRET_STEWARD_STORE` \| required \| Where backups go\. \|\n\| `--recipient-key FILE \(repeatable\)` \| `SECRET_STEWARD_RECIPIENT_KEY` \| {2}\| Key file\. \|\n/,
    );
    assert.match(md, /### Options\n[\s\S]*\| `--output text\\\|json` \| `SECRET_STEWARD_OUTPUT` \| text \| Format\. \|/);
    assert.match(md, /\| `--grace DURATION` \| `SECRET_STEWARD_GRACE` \| 1h \| Grace\. \|/);
    assert.match(md, /\| `--dry-run` \| `SECRET_STEWARD_DRY_RUN` \| false \| Plan only\. \|/);
    assert.match(md, /\| `--kubeconfig FILE` \| `SECRET_STEWARD_KUBECONFIG`, `KUBECONFIG` \| {2}\| Kubeconfig\. \|/);
    assert.match(md, /\| `--hidden TEXT` \| {2}\| {2}\| Flag only\. \|/);
    assert.match(md, /## Examples\n\n```sh\nsecret-steward backup --store s3:\/\/b\n```/);
    assert.match(md, /## Notes\n\nExit codes: 0 fine\.\n/);
  });

  it('keeps the lines of help text: lists stay lists, aligned columns stay preformatted, markup is escaped', () => {
    const text = 'Shows:\n  rotation  each Secret\n  keys      expiry\nThen <name>.asc at 15 3 * * *:\n- one\n- two';

    assert.equal(
      markdownText(text),
      'Shows:\n\n```text\n  rotation  each Secret\n  keys      expiry\n```\n\nThen \\<name>.asc at 15 3 \\* \\* \\*:\n\n- one\n- two',
    );
  });

  it('lists every command in the index, linked to its page, with the exit codes', () => {
    const md = renderReferenceIndex([help, { name: 'prune', summary: 'Delete old | stale backups.', description: '' }]);

    assert.match(
      md,
      /\| \[`backup`\]\(backup\.md\) \| Back things up\. \|\n\| \[`prune`\]\(prune\.md\) \| Delete old \\\| stale backups\. \|/,
    );
    assert.match(md, /## Exit codes\n\n\| Code \| Meaning \|\n\| --- \| --- \|\n\| 0 \| success \|/);
  });

  it('names one file per command plus the index', () => {
    const files = referenceFiles([{ help, settings: spec }]);

    assert.deepEqual(
      files.map((f) => [f.path, f.command]),
      [
        ['docs/cli/README.md', undefined],
        ['docs/cli/backup.md', 'backup'],
      ],
    );
  });
});
