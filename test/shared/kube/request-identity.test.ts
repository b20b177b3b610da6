import assert from 'node:assert/strict';
import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { COMMANDS } from '../../../jobs/commands.js';
import {
  FIELD_MANAGER_MAX_LENGTH,
  fieldManagerFor,
  identifyRequests,
  requestIdentityFor,
  userAgentFor,
} from '../../../shared/kube/request-identity.js';
import { TOOL_VERSION } from '../../../shared/runtime/version.js';

describe('shared/kube/request-identity', () => {
  it('names the tool, its version, the platform and the command in kubectl-shaped User-Agent', () => {
    const agent = userAgentFor('rotate', '0.2.0', 'linux/x64');

    assert.equal(agent, 'secret-steward/0.2.0 (linux/x64) rotate');
    assert.equal(userAgentFor('backup'), `secret-steward/${TOOL_VERSION} (${process.platform}/${process.arch}) backup`);
  });

  it('gives every command a fieldManager the API server accepts (at most 128 printable characters)', () => {
    for (const { help } of COMMANDS) {
      const { userAgent, fieldManager } = requestIdentityFor(help.name);

      assert.equal(fieldManager, `secret-steward-${help.name}`);
      assert.ok(fieldManager.length <= FIELD_MANAGER_MAX_LENGTH, fieldManager);
      assert.match(fieldManager, /^[\x21-\x7e]+$/);
      assert.match(userAgent, /^[\x20-\x7e]+$/);
    }
  });

  const invalid: Array<[string, string]> = [
    ['longer than 128 characters', 'x'.repeat(FIELD_MANAGER_MAX_LENGTH - 'secret-steward-'.length + 1)],
    ['a control character', 'rot\u0007ate'],
    ['a line break', 'rotate\n'],
  ];
  for (const [what, command] of invalid) {
    it(`refuses a fieldManager with ${what}`, () => {
      assert.throws(() => fieldManagerFor(command), /not a valid fieldManager/);
    });
  }

  it('accepts a fieldManager of exactly 128 characters', () => {
    assert.equal(fieldManagerFor('x'.repeat(FIELD_MANAGER_MAX_LENGTH - 'secret-steward-'.length)).length, FIELD_MANAGER_MAX_LENGTH);
  });

  it('refuses a User-Agent that is not visible ASCII', () => {
    assert.throws(() => userAgentFor('rotate\r\nX-Injected: 1'), /not a valid User-Agent/);
    assert.throws(() => userAgentFor('rötate'), /not a valid User-Agent/);
  });

  describe('identifyRequests', () => {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'c', server: 'https://k8s.example:6443', skipTLSVerify: false }, { name: 'u', token: 't' });
    identifyRequests(kc, { userAgent: 'secret-steward/1.0.0 (linux/x64) backup', fieldManager: 'secret-steward-backup' });

    const cases: Array<[string, string, string | undefined]> = [
      ['POST', '/api/v1/namespaces/a/secrets', 'secret-steward-backup'],
      ['PUT', '/api/v1/namespaces/a/secrets/s', 'secret-steward-backup'],
      ['PATCH', '/apis/apps/v1/namespaces/a/deployments/d', 'secret-steward-backup'],
      ['GET', '/api/v1/namespaces/a/secrets', undefined],
      ['DELETE', '/api/v1/namespaces/a/secrets/s', undefined],
    ];
    for (const [method, path, manager] of cases) {
      it(`stamps ${method} ${manager === undefined ? 'with the User-Agent only' : 'with the User-Agent and fieldManager'}`, async () => {
        const ctx = new RequestContext(`https://k8s.example:6443${path}?dryRun=All`, method as never);

        await kc.applySecurityAuthentication(ctx);

        assert.equal(ctx.getHeaders()['User-Agent'], 'secret-steward/1.0.0 (linux/x64) backup');
        assert.equal(ctx.getHeaders().Authorization, 'Bearer t');
        const query = new URL(ctx.getUrl()).searchParams;
        assert.equal(query.get('fieldManager') ?? undefined, manager);
        assert.equal(query.get('dryRun'), 'All');
      });
    }

    it("keeps a call's own fieldManager", async () => {
      const ctx = new RequestContext('https://k8s.example:6443/api/v1/namespaces?fieldManager=other', 'POST' as never);

      await kc.applySecurityAuthentication(ctx);

      assert.deepEqual(new URL(ctx.getUrl()).searchParams.getAll('fieldManager'), ['other']);
    });
  });
});
