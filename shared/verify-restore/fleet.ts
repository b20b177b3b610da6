/**
 * A fleet drill: one DR-site installation drills the backups of several source clusters that
 * share a store, as ONE Indexed Job (`completionMode: Indexed`, `completions` = the number of
 * clusters). Each pod drills the cluster its completion index picks from `--fleet-cluster`
 * (the Job controller sets JOB_COMPLETION_INDEX), in its own pre-created drill namespace
 * `<--drill-namespace>-<index>`, under its own Lease `secret-steward-verify-restore-<index>`,
 * and stores its own report under that cluster's prefix. A failed drill fails its pod, and with
 * `backoffLimitPerIndex` and a FailIndex rule only its index (manifests/overlays/dr-site-verify-only).
 *
 * The namespace and the Lease go by index, not by cluster, because they go together: a drill
 * first removes the leftovers in its namespace, which is safe only while its Lease keeps every
 * other drill out of that namespace.
 */

/** The cluster one pod of the fleet Job drills, and where. */
export interface FleetMember {
  /** The completion index. */
  index: number;
  /** How many clusters the fleet lists (the Job's completions). */
  size: number;
  /** The cluster this index drills (`--fleet-cluster`, in order). */
  cluster: string;
  /** `<drill namespace>-<index>`. */
  drillNamespace: string;
  /** The job name of its Lease: `verify-restore-<index>` (Lease `secret-steward-verify-restore-<index>`). */
  lockJob: string;
}

/** The member `index` of the fleet `clusters`, drilling into `<drillNamespace>-<index>`. */
export function fleetMember(clusters: readonly string[], index: number, drillNamespace: string): FleetMember {
  const cluster = clusters[index];
  if (cluster === undefined) throw new RangeError(`completion index ${index} is outside the fleet of ${clusters.length} clusters`);
  return {
    index,
    size: clusters.length,
    cluster,
    drillNamespace: fleetDrillNamespace(drillNamespace, index),
    lockJob: `verify-restore-${index}`,
  };
}

/** The drill namespace of fleet index `index`. */
export function fleetDrillNamespace(drillNamespace: string, index: number): string {
  return `${drillNamespace}-${index}`;
}
