/**
 * `npm run sandbox -- --dir DIR`: runs the sandbox until interrupted (Ctrl-C / SIGTERM).
 * Then, in another shell: `. DIR/env && kubectl get ns && npm run cli -- backup --dry-run`.
 */
import { parseArgs } from 'node:util';
import { installDrSiteIntoSandbox, installIntoSandbox } from './install.js';
import { startSandbox } from './sandbox.js';
import { seedDemoCluster } from './seed.js';

const USAGE = `Usage: npm run sandbox -- --dir DIR [--kube-port N] [--seed] [--install [--dr-site]]

Starts a Kubernetes API emulator and an S3 server (s3rver) on 127.0.0.1 and writes:
  DIR/kubeconfig   admin kubeconfig for kubectl and secret-steward
  DIR/env          shell-sourceable settings (AWS credentials, SECRET_STEWARD_STORE, ...)
  DIR/keys/        a demo OpenPGP key pair (throwaway; passphrase in demo.passphrase)
With --seed, also creates the demo cluster of npm start (namespaces payments, web, platform,
monitoring; Secrets with rotation policies, four of them due; Deployments using them).
With --install, also installs secret-steward as into a cluster: manifests/base, the store
settings pointed at the sandbox's S3 server, and the key Secrets from the demo keys. Jobs run
this repository's CLI as their pods (docs/one-off-jobs.md).
With --install --dr-site, installs manifests/overlays/dr-site-verify-only instead: an empty DR
cluster that drills the fleet of clusters sharing the store, as one Indexed Job (docs/dr-site.md).
Prints "sandbox ready" and runs until interrupted.
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        'kube-port': { type: 'string' },
        seed: { type: 'boolean' },
        install: { type: 'boolean' },
        'dr-site': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.dir) {
    process.stderr.write(`--dir is required\n\n${USAGE}`);
    return 2;
  }
  const port = values['kube-port'] === undefined ? undefined : Number(values['kube-port']);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write('--kube-port: expected a port number\n');
    return 2;
  }
  const sb = await startSandbox({ dir: values.dir, kubePort: port });
  const seed = values.seed ? await seedDemoCluster(sb.emulator) : undefined;
  if (values['dr-site'] && !values.install) {
    process.stderr.write('--dr-site needs --install\n');
    await sb.stop();
    return 2;
  }
  const installed = values.install ? await (values['dr-site'] ? installDrSiteIntoSandbox(sb) : installIntoSandbox(sb)) : undefined;
  const tree = values['dr-site'] ? 'manifests/overlays/dr-site-verify-only' : 'manifests/base';
  process.stdout.write(
    [
      ...(seed
        ? [
            `seeded:                  ${seed.secrets} Secrets in ${seed.namespaces.join(', ')} (${seed.policies.length} with rotation policies, ${seed.due.length} due), ${seed.deployments.length} Deployments`,
          ]
        : []),
      ...(installed === undefined
        ? []
        : [
            `installed:               ${tree} and the key Secrets (${installed.applied} objects; not served by the emulator, left out: ${installed.skipped.join(', ') || 'none'})`,
          ]),
      `Kubernetes API emulator: ${sb.emulator.url}`,
      `S3 server:               ${sb.s3.endpoint} (bucket sandbox-store)`,
      `kubeconfig:              ${sb.kubeconfig}`,
      `settings:                . ${sb.envFile}`,
      `demo keys:               ${sb.dir}/keys/ (fingerprint ${sb.keys.fingerprint})`,
      'sandbox ready',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sb.stop();
  process.stdout.write('sandbox stopped\n');
  return 0;
}

process.exitCode = await main();
