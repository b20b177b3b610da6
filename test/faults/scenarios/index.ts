/**
 * The scenario registry: one entry per job of the fault matrix, in table order. A new job (a
 * rotation backend such as PostgreSQL) is one new file exporting a `Scenario` plus one line here.
 */
import { backupScenario } from './backup.js';
import { rekeyScenario } from './rekey.js';
import { restoreScenario } from './restore.js';
import { rotateInPlaceScenario, rotateVersionedScenario } from './rotate.js';
import { rotatePostgresqlScenario } from './rotate-postgresql.js';
import type { Scenario } from './scenario.js';
import { verifyRestoreScenario } from './verify-restore.js';

export const SCENARIOS: ReadonlyArray<Scenario<any>> = [
  backupScenario,
  verifyRestoreScenario,
  restoreScenario,
  rotateInPlaceScenario,
  rotateVersionedScenario,
  rotatePostgresqlScenario,
  rekeyScenario,
];

export type { Phase, Scenario } from './scenario.js';
