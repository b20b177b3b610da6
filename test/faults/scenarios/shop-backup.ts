/**
 * The backup the drill and restore scenarios read: the shop, in 1 MiB segments (the two 500 KiB
 * Secrets do not fit one: three segments), signed. Taken once per matrix run with the real
 * backup command, then every case starts from a copy of the bucket.
 */
import { backupCommand } from '../../../jobs/backup.js';
import { type FaultLab, RUN_TIMEOUT_MS } from '../lab.js';
import { backupArgs } from './backup.js';
import { seedShop } from './shop.js';

const templates = new WeakMap<FaultLab, Promise<string>>();

export function shopBackup(lab: FaultLab): Promise<string> {
  let t = templates.get(lab);
  if (t === undefined) {
    t = take(lab);
    templates.set(lab, t);
  }
  return t;
}

async function take(lab: FaultLab): Promise<string> {
  const world = await lab.openCase();
  try {
    await seedShop(world.emulator);
    const r = await world.runInProcess(backupCommand, [...world.baseArgs(), ...backupArgs(world), '--segment-size', '1'], {
      identity: 'template-backup',
      timeoutMs: RUN_TIMEOUT_MS,
    });
    if (r.code !== 0)
      throw new Error(`the template backup failed (exit ${r.code}): ${r.logLines.filter((l) => l.includes('"level":"error"')).join('\n')}`);
    return await lab.saveBucket('shop-backup');
  } finally {
    await world.close();
  }
}
