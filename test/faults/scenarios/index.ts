/**
 * The scenario registry: one entry per job of the fault matrix, in table order. A new job (a
 * rotation backend such as PostgreSQL) is one new file exporting a `Scenario` plus one line here.
 */
import { backupScenario } from './backup.js';
import { rekeyScenario } from './rekey.js';
import { restoreScenario } from './restore.js';
import { rotateInPlaceScenario, rotateVersionedScenario } from './rotate.js';
import { rotateFollowScenario } from './rotate-follow.js';
import { rotateGroupScenario } from './rotate-group.js';
import { rotateMysqlScenario } from './rotate-mysql.js';
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
  rotateMysqlScenario,
  rotateFollowScenario,
  rotateGroupScenario,
  rekeyScenario,
];

export type { Phase, Scenario } from './scenario.js';
