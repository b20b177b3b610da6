import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import type { ExportedSecret } from '../../../shared/backup/secret-export.js';
import { RestoreSpool, SpoolError, type SpooledSecret } from '../../../shared/restore/restore-spool.js';

const CANARY = 'spool-canary-7f3a9c2e-value';

const secret = (name: string, value: string): ExportedSecret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'apps', labels: { app: name } },
  type: 'Opaque',
  data: { v: Buffer.from(value).toString('base64') },
});

/** What the restore spools of a Secret: which it is, its data digest, and its JSON. */
const entry = (s: ExportedSecret): SpooledSecret<string> => ({
  namespace: s.metadata.namespace,
  name: s.metadata.name,
  dataSha256: secretDataDigest(s.data),
  body: JSON.stringify(s),
});

/** Secrets of about 300 KiB each: four of them fill more than one chunk. */
const large = (n: number) => Array.from({ length: n }, (_, i) => secret(`big-${i}`, `${CANARY}-${i}-`.padEnd(300 * 1024, 'x')));

async function readAll(spool: RestoreSpool): Promise<string[]> {
  const names: string[] = [];
  for await (const { name } of spool.read()) names.push(name);
  return names;
}

describe('shared/restore/restore-spool', () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'spool-test-'));
  });
  afterEach(async () => rm(parent, { recursive: true, force: true }));

  async function spoolOf(items: ExportedSecret[]): Promise<RestoreSpool> {
    const spool = await RestoreSpool.create(parent);
    for (const s of items) await spool.append(entry(s));
    await spool.finish();
    return spool;
  }

  it('gives back every Secret, its data digest and its body in order, over several chunks, as often as it is read', async () => {
    // One Secret at the API's 1 MiB (1.4 MB in base64) between the others: larger than the spool's buffer.
    const items = [secret('a', 'one'), ...large(4), secret('huge', 'h'.repeat(1024 * 1024)), ...large(4), secret('z', 'last')];
    const spool = await spoolOf(items);

    const first = [];
    for await (const s of spool.read()) first.push(s);
    const again = await readAll(spool);

    assert.deepEqual(
      first,
      items.map((s) => ({ ...entry(s), body: Buffer.from(JSON.stringify(s)) })),
    );
    assert.deepEqual(
      again,
      items.map((s) => s.metadata.name),
    );
    await spool.remove();
  });

  it('keeps no value, name or label in plaintext on disk, in a private directory and a 0600 file', async () => {
    const spool = await spoolOf([secret('db-credentials', CANARY), ...large(4)]);

    const bytes = await readFile(spool.path);
    const forms = [CANARY, Buffer.from(CANARY).toString('base64'), Buffer.from(CANARY).toString('hex'), 'db-credentials'];
    for (const form of forms) assert.equal(bytes.indexOf(form), -1, `found ${form} in the spool`);
    assert.equal((await stat(spool.path)).mode & 0o777, 0o600);
    assert.equal((await stat(spool.dir)).mode & 0o777, 0o700);
    await spool.remove();
  });

  describe('refuses a spool that is not what was written, before handing out anything of it', () => {
    const cases: Array<[string, (path: string, bytes: Buffer) => Promise<void>, RegExp]> = [
      [
        'a byte changed in the first chunk',
        async (path, bytes) => {
          bytes[40] ^= 1;
          await writeFile(path, bytes);
        },
        /chunk 1 does not authenticate/,
      ],
      ['cut short', (path, bytes) => truncate(path, bytes.length - 100), /truncated or appended to/],
      [
        'cut at a chunk boundary (its last chunk dropped)',
        (path, bytes) => truncate(path, firstChunkEnd(bytes)),
        /truncated or appended to/,
      ],
      ['bytes appended', (path, bytes) => writeFile(path, Buffer.concat([bytes, Buffer.from('x')])), /truncated or appended to/],
      [
        'its first chunk marked as the last',
        async (path, bytes) => {
          bytes[0] = 1;
          await writeFile(path, bytes);
        },
        /chunk 1 does not authenticate/,
      ],
      [
        'its chunks swapped',
        async (path, bytes) => {
          const end = firstChunkEnd(bytes);
          await writeFile(path, Buffer.concat([bytes.subarray(end), bytes.subarray(0, end)]));
        },
        /chunk 1 (does not authenticate|has a malformed header)/,
      ],
    ];
    for (const [what, damage, message] of cases) {
      it(what, async () => {
        const spool = await spoolOf(large(6));
        await damage(spool.path, await readFile(spool.path));

        const handedOut: string[] = [];
        const error = await (async () => {
          try {
            for await (const { name } of spool.read()) handedOut.push(name);
          } catch (e) {
            return e;
          }
        })();

        assert.ok(error instanceof SpoolError, `${what}: ${String(error)}`);
        assert.match(error.message, message);
        assert.match(error.message, /local spool of verified Secrets .* is not what this restore wrote/);
        assert.doesNotMatch(error.message, new RegExp(CANARY));
        assert.deepEqual(handedOut, []);
        await spool.remove();
      });
    }

    it('a later chunk changed: only the Secrets of the chunks before it are handed out', async () => {
      const spool = await spoolOf(large(8));
      const bytes = await readFile(spool.path);
      bytes[firstChunkEnd(bytes) + 40] ^= 1;
      await writeFile(spool.path, bytes);

      const handedOut: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const { name } of spool.read()) handedOut.push(name);
        })(),
        /chunk 2 does not authenticate/,
      );

      assert.ok(handedOut.length > 0 && handedOut.length < 8, `${handedOut.length} handed out`);
      await spool.remove();
    });
  });

  it('within a limit: refuses the Secret that would take the file beyond it, rolls back to the mark, and stays readable', async () => {
    // Each Secret takes about 400 KiB as JSON: six fit in 2.5 MiB, seven do not.
    const limit = 2560 * 1024;
    const spool = await RestoreSpool.create(parent, limit);
    const items = large(7);
    const appended: boolean[] = [];

    for (const s of items.slice(0, 2)) appended.push(await spool.append(entry(s)));
    await spool.mark();
    const sizeAtMark = (await stat(spool.path)).size;
    for (const s of items.slice(2)) appended.push(await spool.append(entry(s)));
    const sizeBeforeRollBack = (await stat(spool.path)).size;
    await spool.rollBack();
    await spool.finish();

    assert.deepEqual(appended, [true, true, true, true, true, true, false]);
    assert.ok(sizeBeforeRollBack > sizeAtMark, 'a chunk past the mark was written before the roll-back');
    assert.ok((await stat(spool.path)).size <= limit);
    assert.deepEqual(await readAll(spool), ['big-0', 'big-1']);
    assert.equal(spool.count, 2);
    await spool.remove();
  });

  it('refuses what would break its framing: a tab or newline in a namespace or name, a newline in a body', async () => {
    const spool = await RestoreSpool.create(parent);
    const ok = entry(secret('a', 'x'));

    for (const bad of [{ namespace: 'ap\tps' }, { name: 'a\nb' }, { body: '{"a":\n1}' }]) {
      await assert.rejects(spool.append({ ...ok, ...bad }), /a namespace or name with a tab or newline, or a body with a newline/);
    }
    assert.equal(spool.count, 0);
    await spool.remove();
  });

  it('remove() deletes the file and its directory, and may be called again', async () => {
    const spool = await spoolOf([secret('a', CANARY)]);

    await spool.remove();
    await spool.remove();

    assert.deepEqual(await readdir(parent), []);
  });

  it('is removed when a second SIGTERM exits the process at once (no finally runs then)', async () => {
    const { child, stderr } = await spoolingChild(parent, [
      `const { Shutdown } = await import(${module('shared/runtime/shutdown.ts')});`,
      `const { createLogger, MemorySink } = await import(${module('shared/log/index.ts')});`,
      'new Shutdown().installSignalHandlers(createLogger({ sink: new MemorySink() }));',
    ]);
    const spooled = await readdir(parent);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const code = await exited;

    assert.equal(spooled.length, 1, 'the spool existed');
    assert.equal(code, 143, stderr());
    assert.deepEqual(await readdir(parent), []);
  });

  describe('removeStale: what a killed restore left behind', () => {
    /** The pid of a process that has exited (and been reaped). */
    async function deadPid(): Promise<number> {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await new Promise((resolve) => child.once('exit', resolve));
      return child.pid!;
    }
    /** A directory under `parent` holding one file. */
    async function dirWithFile(name: string): Promise<string> {
      const dir = join(parent, name);
      await mkdir(dir, { mode: 0o700 });
      await writeFile(join(dir, 'spool'), 'x');
      return dir;
    }

    it('removes the spool of a SIGKILLed restore process, which ran no handler', async () => {
      const { child } = await spoolingChild(parent);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const left = await readdir(parent);

      const removed = await RestoreSpool.removeStale(parent);

      assert.equal(left.length, 1, 'SIGKILL left the spool behind');
      assert.match(left[0], new RegExp(`^secret-steward-restore-${child.pid}-`));
      assert.deepEqual(removed, left);
      assert.deepEqual(await readdir(parent), []);
    });

    it("keeps a live process's spool, this process's own, other names, and symlinks; follows no link", async () => {
      const dead = await deadPid();
      const outside = await mkdtemp(join(tmpdir(), 'spool-outside-'));
      try {
        await writeFile(join(outside, 'keep-me'), 'x');
        const own = await RestoreSpool.create(parent);
        await dirWithFile(`secret-steward-restore-${process.ppid}-abcDEF`); // a live process (our parent)
        await dirWithFile('secret-steward-restore-abcDEF'); // no pid: a release before this one, or not ours
        await dirWithFile(`other-tool-restore-${dead}-abcDEF`);
        await dirWithFile(`secret-steward-restore-${dead}-abc`); // not mkdtemp's six characters
        await symlink(outside, join(parent, `secret-steward-restore-${dead}-linkED`));
        const stale = await dirWithFile(`secret-steward-restore-${dead}-stALE1`);
        await symlink(outside, join(stale, 'link-inside'));
        await dirWithFile(`secret-steward-restore-${process.pid}-earLY1`); // an earlier container's process with our pid (pid 1, say)
        const before = (await readdir(parent)).sort();

        const removed = await RestoreSpool.removeStale(parent);

        assert.deepEqual(removed.sort(), [`secret-steward-restore-${dead}-stALE1`, `secret-steward-restore-${process.pid}-earLY1`].sort());
        assert.deepEqual(
          (await readdir(parent)).sort(),
          before.filter((n) => !removed.includes(n)),
        );
        assert.ok(before.includes(own.dir.slice(parent.length + 1)), 'our own spool was there, and is kept');
        assert.deepEqual(await readdir(outside), ['keep-me'], 'nothing behind a link was touched');
        await own.remove();
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("keeps another user's directory, even with a dead pid in its name", async function () {
      if (process.getuid?.() !== 0) this.skip(); // only root can make a directory another user owns
      const dead = await deadPid();
      const foreign = await dirWithFile(`secret-steward-restore-${dead}-foREIG`);
      await chown(foreign, 65534, 65534);

      const removed = await RestoreSpool.removeStale(parent);

      assert.deepEqual(removed, []);
      assert.deepEqual(await readdir(parent), [`secret-steward-restore-${dead}-foREIG`]);
    });
  });

  it('says where it could not be written, and what to do, without a value', async () => {
    await assert.rejects(RestoreSpool.create(join(parent, 'does-not-exist')), (e: unknown) => {
      assert.ok(e instanceof SpoolError);
      assert.match(e.message, /cannot write the local spool of verified Secrets under .*does-not-exist .*ENOENT.*larger sizeLimit/);
      return true;
    });
  });
});

const module = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), path)).href);

/**
 * A child process that spools one Secret under `parent`, runs `setup`, prints `ready` and waits;
 * resolved once it is ready, with what it wrote on stderr so far.
 */
async function spoolingChild(parent: string, setup: string[] = []): Promise<{ child: ChildProcess; stderr: () => string }> {
  const script = [
    `const { RestoreSpool } = await import(${module('shared/restore/restore-spool.ts')});`,
    `const spool = await RestoreSpool.create(${JSON.stringify(parent)});`,
    `await spool.append({ namespace: 'apps', name: 'a', dataSha256: '${'0'.repeat(64)}', body: '{}' });`,
    'await spool.finish();',
    ...setup,
    "console.log('ready');",
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.once('exit', () => reject(new Error(`the child exited early: ${stderr}`)));
  });
  return { child, stderr: () => stderr };
}

/** Where the first chunk of a spool ends (see the layout in restore-spool.ts). */
function firstChunkEnd(bytes: Buffer): number {
  return 1 + 4 + 12 + bytes.readUInt32BE(1) + 16;
}
