/**
 * `rotate` with the postgresql backend (single-user): role `fault_app` on a real PostgreSQL
 * server (test/support/postgres-server.ts), no TLS. The scenario and its invariants are
 * rotate-database.ts's.
 */
import { type PgTestServer, startPostgres } from '../../support/postgres-server.js';
import { databaseRotationScenario } from './rotate-database.js';

const { scenario, serverOfMatrix } = databaseRotationScenario<PgTestServer>({
  name: 'postgresql',
  product: 'PostgreSQL',
  description: 'in-place rotation of shop/db through the postgresql backend (single-user, real PostgreSQL), a consuming Deployment',
  scheme: 'postgresql',
  originalPassword: 'original-pg-password-CANARY-3c9d',
  backendPolicy: 'backend: { name: postgresql, sslmode: disable, connectAttempts: 2, connectTimeout: 2s }',
  extraData: () => ({}),
  start: (parentDir) => startPostgres({ parentDir }),
  async create(s, role, password) {
    await s.sql('CREATE DATABASE shop');
    await s.sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  },
  async resetPassword(s, role, password) {
    await s.sql(`ALTER ROLE ${role} PASSWORD '${password}'`);
  },
});

export const rotatePostgresqlScenario = scenario;
/** The server `prepare` started (for the checks' own tests). */
export const pgServerOfMatrix = serverOfMatrix;
