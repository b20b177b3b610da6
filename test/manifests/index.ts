/**
 * Manifest helpers for other tests (the end-to-end RBAC tests in particular):
 *
 *   const objs = rbacObjectsFor('backup');               // SA + roles + bindings from the base
 *   await emulator.applyObjects([...namespaces, ...objs]);
 *   for (const p of permissionsOf(objs)) run the job against withoutPermission(objs, p)
 */
export {
  JOBS,
  REPO_ROOT,
  allContainers,
  componentOf,
  describeObject,
  kustomizationDirs,
  podTemplatesOf,
  renderManifests,
  renderManifestsSync,
  type JobName,
  type ManifestObject,
  type PodTemplate,
} from './render.js';
export {
  DRILL_NAMESPACE,
  TOOL_NAMESPACE,
  describePermission,
  namespacesOf,
  permissionsOf,
  rbacObjectsFor,
  serviceAccountName,
  withoutPermission,
  type Permission,
} from './rbac.js';
export { checkRestricted, type PssViolation } from './pod-security.js';
export { validateObject } from './schema.js';
