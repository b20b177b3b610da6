/**
 * The node flags a command effectively runs with in its pod, so that the bench measures memory
 * under the same heap configuration as production rather than the one V8 picks for this
 * machine's RAM (on a 24 GB host V8 gives the young generation 2 x 64 MiB semi-spaces; in a
 * 512 MiB pod it gives 2 x 1 MiB).
 *
 * From the command's manifest: the container's NODE_OPTIONS, plus the semi-space size V8
 * derives from the memory limit, which Node passes to V8 as the machine's memory when it runs
 * under a cgroup limit (V8 `Heap::HeapSizeFromPhysicalMemory`: old generation = limit / 4 x 2
 * without pointer compression; up to 256 MiB of old generation the semi-space is 1/256 of it,
 * at least 1 MiB). NODE_OPTIONS' --max-old-space-size sets only the old generation, so the
 * young generation stays the one derived from the limit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const MIB = 1024 * 1024;

export const MANIFESTS: Record<string, string> = {
  backup: 'manifests/base/backup/cronjob.yaml',
  'verify-restore': 'manifests/base/verify-restore/cronjob.yaml',
  rotate: 'manifests/base/rotate/cronjob.yaml',
  restore: 'manifests/jobs/restore/restore-job.yaml',
};

export interface PodRuntime {
  manifest: string;
  memoryLimitBytes?: number;
  nodeOptions: string[];
  /** The container's `MALLOC_*` settings (glibc malloc tuning), as the process gets them in its pod. */
  env: Record<string, string>;
  /** The flags the bench passes to node: NODE_OPTIONS' plus the derived --max-semi-space-size. */
  flags: string[];
}

/** `512Mi` -> bytes. */
export function quantityBytes(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(q.trim());
  if (!m) return undefined;
  const unit = { Ki: 1024, Mi: MIB, Gi: 1024 * MIB, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** Semi-space size (MiB) V8 picks for a heap sized from `limitBytes` of memory; undefined above 512 MiB (not modelled). */
export function semiSpaceMiBForLimit(limitBytes: number): number | undefined {
  const oldGeneration = (limitBytes / 4) * 2;
  if (oldGeneration > 256 * MIB) return undefined;
  return Math.max(1, 2 ** Math.ceil(Math.log2(oldGeneration / 256 / MIB)));
}

function findContainer(
  doc: unknown,
): { env?: Array<{ name: string; value?: string }>; resources?: { limits?: { memory?: string } } } | undefined {
  const d = doc as {
    spec?: {
      jobTemplate?: { spec?: { template?: { spec?: { containers?: unknown[] } } } };
      template?: { spec?: { containers?: unknown[] } };
    };
  };
  const pod = d.spec?.jobTemplate?.spec?.template?.spec ?? d.spec?.template?.spec;
  return pod?.containers?.[0] as ReturnType<typeof findContainer>;
}

export function podRuntime(root: string, command: string): PodRuntime | undefined {
  const manifest = MANIFESTS[command];
  if (manifest === undefined) return undefined;
  const c = findContainer(parse(readFileSync(join(root, manifest), 'utf8')));
  if (c === undefined) return undefined;
  const nodeOptions = (c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(/\s+/).filter((f) => f !== '');
  const limit = c.resources?.limits?.memory === undefined ? undefined : quantityBytes(c.resources.limits.memory);
  const semi = limit === undefined ? undefined : semiSpaceMiBForLimit(limit);
  const env = Object.fromEntries(
    (c.env ?? []).filter((e) => e.name.startsWith('MALLOC_') && e.value !== undefined).map((e) => [e.name, e.value as string]),
  );
  return {
    manifest,
    memoryLimitBytes: limit,
    nodeOptions,
    env,
    flags: [...nodeOptions, ...(semi !== undefined ? [`--max-semi-space-size=${semi}`] : [])],
  };
}
