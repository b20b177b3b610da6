import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { KEYPAIR_ALGORITHMS, type KeypairSpec, keypairGenerator } from '../../../../shared/rotate/generators/keypair.js';
import { requireDependency } from '../../../support/dependencies.js';
import { testContext, wasRegistered } from './context.js';

const spec = (o: Partial<KeypairSpec>): KeypairSpec =>
  keypairGenerator.schema.parse({
    generator: 'keypair',
    publicKey: 'id.pub',
    sshPublicKey: 'authorized_keys',
    comment: 'deploy@example',
    ...o,
  });

const SSH_TYPES = { ed25519: 'ssh-ed25519', 'ecdsa-p256': 'ecdsa-sha2-nistp256', 'rsa-3072': 'ssh-rsa' } as const;

/** ssh-keygen answers `-?` with its usage and exit 1; only a missing binary fails to spawn. */
function sshKeygenAvailable(): boolean {
  return spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
}

describe('shared/rotate/generators/keypair', function () {
  this.timeout(60_000);

  for (const algorithm of KEYPAIR_ALGORITHMS) {
    it(`makes ${algorithm} keys in PKCS#8, SPKI and OpenSSH formats that belong together`, async function () {
      requireDependency(this, 'ssh-keygen', sshKeygenAvailable(), 'apt-get install openssh-client');
      const ctx = testContext('id');

      const out = await keypairGenerator.generate(spec({ algorithm }), ctx);

      const privatePem = out.get('id')!.toString();
      assert.match(privatePem, /^-----BEGIN PRIVATE KEY-----\n/);
      assert.ok(wasRegistered(ctx.registered, out.get('id')!));
      const privateKey = createPrivateKey(privatePem);
      const publicKey = createPublicKey(out.get('id.pub')!);
      assert.match(out.get('id.pub')!.toString(), /^-----BEGIN PUBLIC KEY-----\n/);
      const message = Buffer.from('rotation test');
      const hash = algorithm === 'ed25519' ? null : 'sha256';
      assert.ok(verify(hash, message, publicKey, sign(hash, message, privateKey)), 'public key verifies the private key signature');

      const line = out.get('authorized_keys')!.toString();
      const [type, blob, comment] = line.trim().split(' ');
      assert.equal(type, SSH_TYPES[algorithm]);
      assert.equal(comment, 'deploy@example');
      assert.ok(line.endsWith('\n'));
      const decoded = Buffer.from(blob, 'base64');
      assert.equal(decoded.subarray(4, 4 + decoded.readUInt32BE(0)).toString(), type, 'blob starts with its type');
      const listed = execFileSync('ssh-keygen', ['-l', '-f', '-'], { input: line }).toString();
      const expected = `SHA256:${createHash('sha256').update(decoded).digest('base64').replace(/=+$/, '')}`;
      assert.ok(listed.includes(expected), `ssh-keygen fingerprint ${listed.trim()} vs ${expected}`);
    });
  }

  it('writes only the private key when no public outputs are asked for', async () => {
    const out = await keypairGenerator.generate(keypairGenerator.schema.parse({ generator: 'keypair' }), testContext('k'));

    assert.deepEqual([...out.keys()], ['k']);
  });

  it('rejects outputs that collide', () => {
    assert.deepEqual(keypairGenerator.validate?.('k', spec({ publicKey: 'k', sshPublicKey: 'k.ssh' })), [
      { path: ['publicKey'], message: 'must differ from the key holding the private key' },
    ]);
    assert.deepEqual(keypairGenerator.validate?.('k', spec({ publicKey: 'p', sshPublicKey: 'p' })), [
      { path: ['sshPublicKey'], message: 'must differ from publicKey' },
    ]);
  });
});
