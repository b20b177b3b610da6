export type { PgBackendConfig } from './config.js';
export { postgresqlBackend } from './postgresql-backend.js';
