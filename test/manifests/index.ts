/**
 * Manifest helpers for other tests (the end-to-end RBAC tests in particular):
 *
 *   const objs = rbacObjectsFor('backup');               // SA + roles + bindings from the base
 *   await emulator.applyObjects([...namespaces, ...objs]);
 *   for (const p of permissionsOf(objs)) run the job against withoutPermission(objs, p)
 */

export { checkRestricted, type PssViolation } from './pod-security.js';
export {
  DRILL_NAMESPACE,
  describePermission,
  namespacesOf,
  type Permission,
  permissionsOf,
  rbacObjectsFor,
  serviceAccountName,
  TOOL_NAMESPACE,
  withoutPermission,
} from './rbac.js';
export {
  allContainers,
  componentOf,
  describeObject,
  JOBS,
  type JobName,
  kustomizationDirs,
  type ManifestObject,
  type PodTemplate,
  podTemplatesOf,
  REPO_ROOT,
  renderManifests,
  renderManifestsSync,
} from './render.js';
export { validateObject } from './schema.js';
