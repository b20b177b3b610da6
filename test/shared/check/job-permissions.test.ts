import assert from 'node:assert/strict';
import { JOB_PERMISSIONS, type JobPermission, permissionText } from '../../../shared/check/job-permissions.js';
import { DRILL_NAMESPACE, permissionsOf, rbacObjectsFor, TOOL_NAMESPACE } from '../../manifests/rbac.js';
import type { JobName } from '../../manifests/render.js';

/** `verb group/resource [name] @scope`, from the table or from a rendered rule. */
const keyOf = (p: Pick<JobPermission, 'verb' | 'group' | 'resource' | 'name' | 'scope'>) => `${permissionText(p)} @${p.scope}`;

/** What manifests/base grants the job's ServiceAccount, in the table's terms. */
function granted(job: JobName): string[] {
  return permissionsOf(rbacObjectsFor(job))
    .flatMap((p) => {
      const scope =
        p.roleKind === 'ClusterRole'
          ? 'cluster'
          : p.roleNamespace === TOOL_NAMESPACE
            ? 'tool'
            : p.roleNamespace === DRILL_NAMESPACE
              ? 'drill'
              : `?${p.roleNamespace}`;
      const names = p.resourceNames.length > 0 ? p.resourceNames : [undefined];
      return names.map((name) =>
        keyOf({ verb: p.verb, group: p.apiGroup, resource: p.resource, name, scope: scope as JobPermission['scope'] }),
      );
    })
    .sort();
}

describe('shared/check/job-permissions', () => {
  for (const job of ['backup', 'verify-restore', 'restore', 'rotate'] as const) {
    it(`${job}: the table is exactly what manifests/base grants its ServiceAccount`, () => {
      assert.deepEqual(JOB_PERMISSIONS[job].map(keyOf).sort(), granted(job));
    });
  }

  it("prune: runs as the backup job's ServiceAccount and needs a part of what it is granted", () => {
    const backup = new Set(granted('backup'));

    const missing = JOB_PERMISSIONS.prune.map(keyOf).filter((k) => !backup.has(k));

    assert.deepEqual(missing, []);
    assert.ok(JOB_PERMISSIONS.prune.length > 0);
  });
});
