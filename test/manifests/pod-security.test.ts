import assert from 'node:assert/strict';
import { checkRestricted, type PssControl } from './pod-security.js';
import { describeObject, kustomizationDirs, type PodSpecLike, podTemplatesOf, renderManifests } from './render.js';

/** The smallest pod spec the restricted profile admits. */
function compliant(): PodSpecLike {
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'app',
        image: 'i',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
}

type Mutation = (spec: any) => void;

const VIOLATIONS: [string, Mutation, PssControl, string][] = [
  [
    'hostProcess on the pod',
    (s) => (s.securityContext.windowsOptions = { hostProcess: true }),
    'HostProcess',
    'securityContext.windowsOptions.hostProcess',
  ],
  [
    'hostProcess on a container',
    (s) => (s.containers[0].securityContext.windowsOptions = { hostProcess: true }),
    'HostProcess',
    'containers[0].securityContext.windowsOptions.hostProcess',
  ],
  ['hostNetwork', (s) => (s.hostNetwork = true), 'Host Namespaces', 'hostNetwork'],
  ['hostPID', (s) => (s.hostPID = true), 'Host Namespaces', 'hostPID'],
  ['hostIPC', (s) => (s.hostIPC = true), 'Host Namespaces', 'hostIPC'],
  [
    'a privileged container',
    (s) => (s.containers[0].securityContext.privileged = true),
    'Privileged Containers',
    'containers[0].securityContext.privileged',
  ],
  [
    'an added capability',
    (s) => (s.containers[0].securityContext.capabilities.add = ['NET_RAW']),
    'Capabilities',
    'containers[0].securityContext.capabilities.add',
  ],
  [
    'capabilities not dropped',
    (s) => (s.containers[0].securityContext.capabilities = { drop: ['NET_RAW'] }),
    'Capabilities',
    'containers[0].securityContext.capabilities.drop',
  ],
  ['a hostPath volume', (s) => s.volumes.push({ name: 'h', hostPath: { path: '/' } }), 'HostPath Volumes', 'volumes[h].hostPath'],
  ['a hostPort', (s) => (s.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]), 'Host Ports', 'containers[0].ports'],
  [
    'AppArmor unconfined (field)',
    (s) => (s.containers[0].securityContext.appArmorProfile = { type: 'Unconfined' }),
    'AppArmor',
    'containers[0].securityContext.appArmorProfile.type',
  ],
  [
    'an SELinux type outside the allowed set',
    (s) => (s.securityContext.seLinuxOptions = { type: 'spc_t' }),
    'SELinux',
    'securityContext.seLinuxOptions.type',
  ],
  [
    'an SELinux user',
    (s) => (s.containers[0].securityContext.seLinuxOptions = { user: 'system_u' }),
    'SELinux',
    'containers[0].securityContext.seLinuxOptions.user',
  ],
  [
    'an unmasked /proc',
    (s) => (s.containers[0].securityContext.procMount = 'Unmasked'),
    '/proc Mount Type',
    'containers[0].securityContext.procMount',
  ],
  [
    'seccomp Unconfined on the pod',
    (s) => (s.securityContext.seccompProfile = { type: 'Unconfined' }),
    'Seccomp',
    'securityContext.seccompProfile.type',
  ],
  [
    'seccomp Unconfined on a container',
    (s) => (s.containers[0].securityContext.seccompProfile = { type: 'Unconfined' }),
    'Seccomp',
    'containers[0].securityContext.seccompProfile.type',
  ],
  [
    'no seccomp profile anywhere',
    (s) => delete s.securityContext.seccompProfile,
    'Seccomp',
    'containers[0].securityContext.seccompProfile.type',
  ],
  ['an unsafe sysctl', (s) => (s.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }]), 'Sysctls', 'securityContext.sysctls'],
  ['an nfs volume', (s) => s.volumes.push({ name: 'n', nfs: { server: 'x', path: '/' } }), 'Volume Types', 'volumes[n].nfs'],
  [
    'allowPrivilegeEscalation unset',
    (s) => delete s.containers[0].securityContext.allowPrivilegeEscalation,
    'Privilege Escalation',
    'containers[0].securityContext.allowPrivilegeEscalation',
  ],
  [
    'allowPrivilegeEscalation true in an init container',
    (s) =>
      (s.initContainers = [
        { name: 'init', image: 'i', securityContext: { allowPrivilegeEscalation: true, capabilities: { drop: ['ALL'] } } },
      ]),
    'Privilege Escalation',
    'initContainers[0].securityContext.allowPrivilegeEscalation',
  ],
  ['runAsNonRoot unset', (s) => delete s.securityContext.runAsNonRoot, 'Running as Non-root', 'containers[0].securityContext.runAsNonRoot'],
  [
    'runAsNonRoot false on a container',
    (s) => (s.containers[0].securityContext.runAsNonRoot = false),
    'Running as Non-root',
    'containers[0].securityContext.runAsNonRoot',
  ],
  ['runAsUser 0 on the pod', (s) => (s.securityContext.runAsUser = 0), 'Running as Non-root user', 'securityContext.runAsUser'],
  [
    'runAsUser 0 on an ephemeral container',
    (s) =>
      (s.ephemeralContainers = [
        { name: 'dbg', image: 'i', securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
      ]),
    'Running as Non-root user',
    'ephemeralContainers[0].securityContext.runAsUser',
  ],
];

describe('manifests: Pod Security Standards "restricted"', () => {
  describe('the checker', () => {
    it('admits a minimal compliant pod', () => {
      assert.deepEqual(checkRestricted(compliant()), []);
    });

    it('admits what restricted allows: NET_BIND_SERVICE, Localhost seccomp per container, allowed volume types', () => {
      const spec = compliant() as any;
      spec.securityContext = { runAsNonRoot: true };
      spec.containers[0].securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' };
      spec.containers[0].securityContext.capabilities.add = ['NET_BIND_SERVICE'];
      spec.volumes.push(
        { name: 'a', projected: { sources: [] } },
        { name: 'b', secret: { secretName: 's' } },
        { name: 'c', csi: { driver: 'd' } },
      );

      assert.deepEqual(checkRestricted(spec), []);
    });

    for (const [what, mutate, control, path] of VIOLATIONS) {
      it(`refuses ${what} (${control})`, () => {
        const spec = compliant();
        mutate(spec);

        const violations = checkRestricted(spec);

        assert.deepEqual(
          violations.map((v) => [v.control, v.path]),
          [[control, path]],
        );
      });
    }

    it('refuses the AppArmor unconfined annotation', () => {
      const violations = checkRestricted(compliant(), { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' });

      assert.deepEqual(
        violations.map((v) => v.control),
        ['AppArmor'],
      );
    });
  });

  for (const dir of kustomizationDirs()) {
    it(`every pod template of ${dir} meets "restricted"`, async () => {
      const templates = (await renderManifests(dir)).flatMap(podTemplatesOf);

      const report = templates.flatMap((t) =>
        checkRestricted(t.spec).map((v) => `${describeObject(t.owner)} ${t.path}.${v.path}: ${v.control}: ${v.message}`),
      );

      assert.deepEqual(report, []);
    });
  }

  it('every namespace enforces "restricted" at the API server too', async () => {
    const namespaces = (await renderManifests('manifests/base')).filter((o) => o.kind === 'Namespace');

    for (const ns of namespaces) assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', ns.metadata.name);
    assert.equal(namespaces.length, 2);
  });
});
