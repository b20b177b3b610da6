export type { MysqlBackendConfig } from './config.js';
export { mysqlBackend } from './mysql-backend.js';
