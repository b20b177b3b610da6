import assert from 'node:assert/strict';
import { ADMIN_HOST_KEY, adminHostProblem } from '../../../../shared/rotate/backends/admin-hosts.js';

describe('shared/rotate/backends/admin-hosts (postgresql and mysql alike)', () => {
  it('the admin credential goes only to a host its Secret lists in its host key', () => {
    const where = 'Secret shop/db-admin (backend.adminSecretRef)';
    const admin = (host?: string) => new Map(host === undefined ? [] : [[ADMIN_HOST_KEY, Buffer.from(host)]]);
    const allowed: Array<[string | undefined, string, boolean]> = [
      ['db.shop.svc', 'db.shop.svc', true],
      ['DB.Shop.svc.', 'db.shop.svc', true],
      ['db.shop.svc', 'db', false],
      ['db', 'db.shop.svc', false],
      ['other.svc, 10.0.0.7', '10.0.0.7', true],
      ['other.svc,10.0.0.7', 'db.shop.svc', false],
      ['::1', '0:0::1', true],
      ['*.shop.svc', 'db.shop.svc', false],
      [undefined, 'db.shop.svc', false],
    ];
    for (const [hosts, host, ok] of allowed)
      assert.equal(adminHostProblem(admin(hosts), host, where) === undefined, ok, `${hosts} allows ${host}: ${ok}`);
    assert.equal(
      adminHostProblem(admin(), 'db.shop.svc', where),
      'Secret shop/db-admin (backend.adminSecretRef) does not name the database host its credential may be sent to: add a host key to it holding db.shop.svc (several hosts: comma-separated)',
    );
    const hostile = adminHostProblem(admin('db, postgres://u:CANARY-pw@x'), 'db.shop.svc', where)!;
    assert.match(hostile, /holds an entry that is not a host name or an address/);
    assert.ok(!hostile.includes('CANARY'), 'an entry that is not a host is never echoed');
  });
});
