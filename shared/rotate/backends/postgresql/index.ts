export type { PgBackendConfig } from './config.js';
export { alternateRole, CLONE_SUFFIX, postgresqlBackend } from './postgresql-backend.js';
