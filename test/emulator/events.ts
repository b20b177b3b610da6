/**
 * events.k8s.io/v1 Events share storage with core/v1 Events, as in a real
 * cluster. Objects are stored in the core shape and converted on the way in
 * and out (field mapping of k8s.io/kubernetes/pkg/apis/events/v1 conversion).
 */
import type { KubeObject } from './types.js';

/** [events.k8s.io/v1 field, core/v1 field] pairs; everything else keeps its name. */
const FIELD_MAP: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

function rename(obj: KubeObject, pairs: [string, string][]): KubeObject {
  const out: KubeObject = {};
  const map = new Map(pairs);
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'kind' || key === 'apiVersion') continue;
    out[map.get(key) ?? key] = value;
  }
  return out;
}

/** events.k8s.io/v1 Event -> stored core/v1 shape. */
export function eventV1ToCore(obj: KubeObject): KubeObject {
  return rename(obj, FIELD_MAP);
}

/** Stored core/v1 Event -> events.k8s.io/v1 shape. */
export function eventCoreToV1(obj: KubeObject): KubeObject {
  return rename(
    obj,
    FIELD_MAP.map(([v1, core]) => [core, v1] as [string, string]),
  );
}
