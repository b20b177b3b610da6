/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time per
 * function and per module (a dependency under node_modules, a project file, or a V8/native
 * bucket such as (garbage collector)).
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Top functions by self time. */
  functions: Array<{ name: string; where: string; selfMs: number; share: number }>;
  /** Self time per module. */
  modules: Array<{ module: string; selfMs: number; share: number }>;
}

/** `openpgp`, `@aws-sdk/client-s3`, `shared/backup/run-backup.ts`, `node:zlib`, `(garbage collector)`. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  const project = /\/(jobs|shared|dist\/jobs|dist\/shared)\/(.+)$/.exec(url);
  if (project) return `${project[1].replace(/^dist\//, '')}/${project[2]}`;
  return url.replace(/^file:\/\//, '');
}

export async function summariseProfile(file: string, top = 12): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, { name: string; where: string; us: number }>();
  const mods = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const mod = moduleOf(url, functionName);
    const name = functionName || '(anonymous)';
    const key = `${name}@${url}:${lineNumber}`;
    const f = fns.get(key) ?? { name, where: `${mod}:${lineNumber + 1}`, us: 0 };
    f.us += us;
    fns.set(key, f);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
  }
  const share = (us: number) => (totalUs === 0 ? 0 : us / totalUs);
  return {
    totalMs: totalUs / 1000,
    functions: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, share: share(f.us) })),
    modules: [...mods.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, us]) => ({ module, selfMs: us / 1000, share: share(us) })),
  };
}
