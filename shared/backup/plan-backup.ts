import type { SecretStore } from '../kube/secrets.js';
import type { Logger } from '../log/index.js';
import { secretDataSize } from './secret-digest.js';
import { listSelectedSecrets, type SecretSelection } from './secret-source.js';

export interface BackupPlan {
  secrets: number;
  dataBytes: number;
  /** namespace -> type -> count */
  byNamespace: Record<string, Record<string, number>>;
}

/** What a backup would contain: counts per namespace and type. Reads only; writes nothing. */
export async function planBackup(
  secrets: Pick<SecretStore, 'list'>,
  sel: SecretSelection,
  o: { pageSize: number; log: Logger },
): Promise<BackupPlan> {
  let plan: BackupPlan = { secrets: 0, dataBytes: 0, byNamespace: {} };
  for await (const page of listSelectedSecrets(secrets, sel, o)) {
    if (page.restarted) plan = { secrets: 0, dataBytes: 0, byNamespace: {} };
    for (const s of page.items) {
      const ns = s.metadata?.namespace ?? '';
      const type = s.type ?? 'Opaque';
      plan.byNamespace[ns] ??= {};
      const byType = plan.byNamespace[ns];
      byType[type] = (byType[type] ?? 0) + 1;
      plan.secrets++;
      plan.dataBytes += secretDataSize(s.data);
    }
  }
  return plan;
}
