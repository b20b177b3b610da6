import assert from 'node:assert/strict';
import { runWalkthrough } from './doc-walkthrough.js';

/**
 * README.md, "One-off Jobs in the sandbox", run as written (runWalkthrough, which states the
 * two differences: no `npm ci`, and a fresh temporary sandbox directory).
 */
describe('test/sandbox: README.md one-off Jobs, as a new user runs it', function () {
  this.timeout(900_000);

  it('installs into the sandbox, then backs up, drills and restores with arguments as one-off Jobs, showing their progress', async () => {
    await runWalkthrough(
      { doc: 'README.md', marker: 'one-off-jobs', docDir: '/tmp/secret-steward-sandbox', tmpPrefix: 'ss-one-off-' },
      ({ out, text }) => {
        assert.match(out, /installed: +manifests\/base and the key Secrets/);
        // Every step ran; each run followed its Job to Complete.
        const completed = [...text.matchAll(/"jobName":"(secret-steward-[a-z-]+-manual-[\d-]+)","condition":"Complete"/g)].map((m) => m[1]);
        assert.deepEqual(
          completed.map((n) => n.replace(/-manual-.*/, '')),
          ['secret-steward-backup', 'secret-steward-verify-restore', 'secret-steward-restore', 'secret-steward-restore'],
          text,
        );
        // Progress: the Jobs' own output, streamed while they ran, with totals.
        assert.match(text, /"progress":"backup","done":\d+,"total":\d+/);
        assert.match(text, /"progress":"verify-restore","done":\d+,"total":\d+/);
        assert.match(text, /"progress":"restore: write","done":1,"total":1,"percent":100/);
        assert.match(text, /Backup \S+ complete: \d+ Secrets/);
        assert.match(text, /"msg":"backup complete"/);
        assert.match(text, /RESTORED/);
        assert.match(text, /create +default\/demo +default\/demo +done/);
        // The restored Secret is there, and the Jobs are labelled as manual runs.
        assert.match(text, /\ndemo +Opaque +1 /);
        assert.equal(new Set(text.match(/^secret-steward-[a-z-]+-manual-\d{8}-\d{6}(?= )/gm)).size, 4, text);
      },
    );
  });
});
