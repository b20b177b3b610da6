import type { RotationBackend } from '../backend.js';
import { mysqlBackend } from './mysql/index.js';
import { postgresqlBackend } from './postgresql/index.js';

/** The rotation backends this build ships: the rotate job runs them, status validates policies with them. */
export const SHIPPED_BACKENDS: readonly RotationBackend[] = [postgresqlBackend as RotationBackend, mysqlBackend as RotationBackend];
