/**
 * Everything a case's canary scan reads: the runs' output and log lines, every Event and every
 * other Kubernetes object (Secrets by their metadata only: their data is where values belong),
 * every object key, metadata and stored byte that is not a verified OpenPGP message (s3rver: its
 * directory's files; RGW: its objects and their metadata), and the files the jobs left in TMPDIR.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RESOURCES } from '../emulator/index.js';
import { encryptedWhereClaimed } from './invariants.js';
import { type CaseWorld, type JobRun, walk } from './lab.js';

/** Files under TMPDIR and their modification times, to tell a case's new files from older ones. */
export function tmpSnapshot(world: CaseWorld): Map<string, number> {
  return new Map(tmpFiles(world).map((f) => [f, statSync(f).mtimeMs]));
}

/** Files under the jobs' TMPDIR, except tsx's transpile cache (source code, not output). */
function tmpFiles(world: CaseWorld): string[] {
  return readdirSync(world.lab.tmp)
    .filter((n) => !n.startsWith('tsx-'))
    .flatMap((n) => {
      const p = join(world.lab.tmp, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/**
 * The texts to scan (`[where, text]`) and problems found on the way (an object named `.pgp`
 * that is not an encrypted OpenPGP message).
 */
export async function collectEvidence(
  world: CaseWorld,
  runs: ReadonlyArray<readonly [string, JobRun]>,
  tmpBefore: ReadonlyMap<string, number>,
): Promise<{ sources: Array<[string, string]>; problems: string[] }> {
  const sources: Array<[string, string]> = [];
  for (const [name, run] of runs) {
    sources.push(
      [`the ${name}'s stdout`, run.stdout],
      [`the ${name}'s stderr`, run.stderr],
      [`the ${name}'s log lines`, run.logLines.join('\n')],
    );
  }

  const emu = world.emulator;
  sources.push(['Events', JSON.stringify(emu.list('v1', 'Event'))]);
  for (const rt of RESOURCES) {
    if (rt.virtual || rt.storageOf !== undefined || rt.kind === 'Event' || !rt.verbs.includes('list')) continue;
    let objects: unknown[];
    try {
      objects = emu.list(rt.apiVersion, rt.kind);
    } catch {
      continue;
    }
    if (rt.kind === 'Secret') objects = objects.map((o) => ({ metadata: (o as { metadata: unknown }).metadata }));
    if (objects.length > 0) sources.push([`${rt.kind} objects${rt.kind === 'Secret' ? ' (metadata)' : ''}`, JSON.stringify(objects)]);
  }

  const objects: Array<[string, Buffer]> = [];
  for (const f of await world.lab.storedFiles()) {
    sources.push([`the name of stored file ${f.name}`, f.name]);
    if (f.pgpKey !== undefined) {
      // Checked to be an encrypted message below: its bytes are ciphertext.
      objects.push([f.pgpKey, f.bytes]);
      continue;
    }
    sources.push([`stored file ${f.name}`, f.bytes.toString('latin1')]);
  }
  const problems = await encryptedWhereClaimed(objects);

  for (const f of tmpFiles(world)) {
    const mtime = statSync(f).mtimeMs;
    if (tmpBefore.get(f) === mtime) continue;
    sources.push([`temporary file ${relative(world.lab.tmp, f)}`, readFileSync(f).toString('latin1')]);
  }
  return { sources, problems };
}
