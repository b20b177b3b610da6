/**
 * Running the measured work in child processes, so that wall time, CPU and peak RSS belong to
 * the process that did the work, not to the bench driver or the server process (servers.ts).
 *
 * - Node processes (the real CLI): `--import rss-probe.mjs` reports the process's own peak RSS
 *   (getrusage), CPU times and peak heap figures; `--cpu-prof` on request.
 * - Shell pipelines (the baseline): each stage under GNU time (`-f '%e %M %U %S'`), so every
 *   process of the pipeline has its own peak RSS.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface ProcessFigures {
  /** Peak resident set size of the process, bytes. */
  maxRssBytes: number;
  userCpuMs: number;
  systemCpuMs: number;
  /** Peak V8 heap figures (node processes only). */
  peak?: { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; rss: number };
}

export interface Measured {
  wallMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
  process?: ProcessFigures;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Written to the child's stdin, then closed. */
  input?: string;
}

/** Runs a command, collecting output; resolves when it exits. */
export function run(command: string, args: readonly string[], o: RunOptions): Promise<Omit<Measured, 'process'>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ wallMs: performance.now() - started, code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(o.input ?? '');
  });
}

export interface NodeRunOptions extends RunOptions {
  /** Where the probe writes its figures. */
  probeFile: string;
  /** Directory for a V8 CPU profile (`--cpu-prof`), if wanted. */
  cpuProfDir?: string;
  /** Extra node flags (e.g. `--import tsx` to run sources). */
  nodeFlags?: string[];
}

const PROBE = new URL('./rss-probe.mjs', import.meta.url).pathname;

/** Runs `node <script> <args>` with the probe preloaded and reads its figures. */
export async function runNode(script: string, args: readonly string[], o: NodeRunOptions): Promise<Measured> {
  await rm(o.probeFile, { force: true });
  const flags = [...(o.nodeFlags ?? []), '--import', PROBE, ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [])];
  const r = await run(process.execPath, [...flags, script, ...args], { ...o, env: { ...o.env, SS_BENCH_PROBE_FILE: o.probeFile } });
  const figures = existsSync(o.probeFile) ? (JSON.parse(await readFile(o.probeFile, 'utf8')) as ProcessFigures) : undefined;
  return { ...r, process: figures };
}

export interface StageFigures extends ProcessFigures {
  name: string;
  wallMs: number;
}

/**
 * Runs a bash pipeline whose stages are given separately; each runs under GNU time writing
 * to its own file. `set -o pipefail`: the pipeline fails when any stage does.
 */
export async function runPipeline(
  stages: Array<{ name: string; command: string }>,
  o: RunOptions & { dir: string; time: string },
): Promise<Omit<Measured, 'process'> & { stages: StageFigures[] }> {
  const files = stages.map((s, i) => join(o.dir, `time-${i}-${s.name.replace(/\W+/g, '_')}.txt`));
  await Promise.all(files.map((f) => rm(f, { force: true })));
  const script = `set -o pipefail\n${stages.map((s, i) => `${o.time} -f '%e %M %U %S' -o '${files[i]}' ${s.command}`).join(' \\\n  | ')}\n`;
  const r = await run('bash', ['-c', script], o);
  const figures: StageFigures[] = [];
  for (const [i, s] of stages.entries()) {
    const text = existsSync(files[i]) ? await readFile(files[i], 'utf8') : '';
    // GNU time prefixes "Command exited with non-zero status N" when a stage fails.
    const m = /([\d.]+) (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(text.trim());
    figures.push({
      name: s.name,
      wallMs: m ? Number(m[1]) * 1000 : NaN,
      maxRssBytes: m ? Number(m[2]) * 1024 : NaN,
      userCpuMs: m ? Number(m[3]) * 1000 : NaN,
      systemCpuMs: m ? Number(m[4]) * 1000 : NaN,
    });
  }
  return { ...r, stages: figures };
}

/** Single-quotes a value for bash. */
export function sh(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}
