/**
 * `rotate` with the mysql backend (single-user): account `fault_app` on a real MariaDB server
 * (test/support/mariadb-server.ts), verified TLS (its CA in the Secret's `ca.crt`). The scenario
 * and its invariants are rotate-database.ts's.
 */
import { type MariaDbTestServer, startMariaDb } from '../../support/mariadb-server.js';
import { databaseRotationScenario } from './rotate-database.js';

const { scenario, serverOfMatrix } = databaseRotationScenario<MariaDbTestServer>({
  name: 'mysql',
  product: 'MariaDB',
  description: 'in-place rotation of shop/db through the mysql backend (single-user, real MariaDB, verified TLS), a consuming Deployment',
  scheme: 'mysql',
  originalPassword: 'original-mysql-password-CANARY-8b2e',
  backendPolicy: 'backend: { name: mysql, sslRootCertKey: ca.crt, connectAttempts: 2, connectTimeout: 2s }',
  extraData: (s) => ({ 'ca.crt': s.caPem }),
  start: (parentDir) => startMariaDb({ parentDir }),
  async create(s, role, password) {
    await s.sql('CREATE DATABASE shop');
    await s.sql(`CREATE USER '${role}'@'%' IDENTIFIED BY '${password}'`);
    await s.sql(`GRANT SELECT ON shop.* TO '${role}'@'%'`);
  },
  async resetPassword(s, role, password) {
    await s.sql(`ALTER USER '${role}'@'%' IDENTIFIED BY '${password}'`);
  },
});

export const rotateMysqlScenario = scenario;
/** The server `prepare` started (for the checks' own tests). */
export const mysqlServerOfMatrix = serverOfMatrix;
