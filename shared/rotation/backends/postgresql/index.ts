export { postgresqlBackend, alternateRole, CLONE_SUFFIX } from './postgresql-backend.js';
export type { PgBackendConfig } from './config.js';
