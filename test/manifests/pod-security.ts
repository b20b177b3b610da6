/**
 * Pod Security Standards, "restricted" profile (which includes "baseline"), as the
 * PodSecurity admission controller checks it for `enforce-version: latest`. Written here
 * because no maintained npm package implements the standard; each check follows the table at
 * kubernetes.io/docs/concepts/security/pod-security-standards and is table-tested with a
 * violating pod in pod-security.test.ts.
 */
import { allContainers, type PodSpecLike } from './render.js';

/** The controls of the standard, named as in its table. */
export type PssControl =
  | 'HostProcess'
  | 'Host Namespaces'
  | 'Privileged Containers'
  | 'Capabilities'
  | 'HostPath Volumes'
  | 'Host Ports'
  | 'AppArmor'
  | 'SELinux'
  | '/proc Mount Type'
  | 'Seccomp'
  | 'Sysctls'
  | 'Volume Types'
  | 'Privilege Escalation'
  | 'Running as Non-root'
  | 'Running as Non-root user';

export interface PssViolation {
  control: PssControl;
  /** Path inside the pod spec, e.g. `containers[0].securityContext.allowPrivilegeEscalation`. */
  path: string;
  message: string;
}

/** Volume sources the restricted profile allows. */
export const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

type SecurityContext = {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  procMount?: string;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  appArmorProfile?: { type?: string };
  seLinuxOptions?: { type?: string; user?: string; role?: string; level?: string };
  windowsOptions?: { hostProcess?: boolean };
  sysctls?: { name: string; value: string }[];
};

/**
 * Every violation of the restricted profile by a pod spec (and its pod annotations, for
 * AppArmor); empty when the pod would be admitted under `enforce: restricted`.
 */
export function checkRestricted(spec: PodSpecLike, annotations: Record<string, string> = {}): PssViolation[] {
  const out: PssViolation[] = [];
  const add = (control: PssControl, path: string, message: string): void => {
    out.push({ control, path, message });
  };
  const pod = (spec.securityContext ?? {}) as SecurityContext;
  const indexInKind = new Map<string, number>();
  const containers = allContainers(spec).map(({ kind, container }) => {
    const i = indexInKind.get(kind) ?? 0;
    indexInKind.set(kind, i + 1);
    return {
      path: `${kind}[${i}]`,
      sc: (container.securityContext ?? {}) as SecurityContext,
      ports: (container.ports ?? []) as { hostPort?: number }[],
    };
  });

  // Baseline
  if (pod.windowsOptions?.hostProcess === true) add('HostProcess', 'securityContext.windowsOptions.hostProcess', 'must not be true');
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[field] === true) add('Host Namespaces', field, 'must not be true');
  }
  for (const v of spec.volumes ?? []) {
    if ('hostPath' in v) add('HostPath Volumes', `volumes[${String(v.name)}].hostPath`, 'hostPath volumes are forbidden');
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith(APPARMOR_ANNOTATION) && value === 'unconfined')
      add('AppArmor', `metadata.annotations[${key}]`, 'must not be unconfined');
  }
  const checkAppArmor = (sc: SecurityContext, path: string): void => {
    if (sc.appArmorProfile?.type === 'Unconfined') add('AppArmor', `${path}.appArmorProfile.type`, 'must not be Unconfined');
  };
  const checkSelinux = (sc: SecurityContext, path: string): void => {
    const o = sc.seLinuxOptions;
    if (o === undefined) return;
    if (!SELINUX_TYPES.has(o.type ?? '')) add('SELinux', `${path}.seLinuxOptions.type`, `type ${o.type} is not allowed`);
    if (o.user) add('SELinux', `${path}.seLinuxOptions.user`, 'must not be set');
    if (o.role) add('SELinux', `${path}.seLinuxOptions.role`, 'must not be set');
  };
  checkAppArmor(pod, 'securityContext');
  checkSelinux(pod, 'securityContext');
  for (const s of pod.sysctls ?? []) {
    if (!SAFE_SYSCTLS.has(s.name)) add('Sysctls', 'securityContext.sysctls', `sysctl ${s.name} is not in the safe set`);
  }

  // Restricted
  for (const v of spec.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== 'name');
    for (const t of types) {
      if (t !== 'hostPath' && !RESTRICTED_VOLUME_TYPES.has(t))
        add('Volume Types', `volumes[${String(v.name)}].${t}`, `volume type ${t} is not allowed`);
    }
  }
  if (pod.runAsUser === 0) add('Running as Non-root user', 'securityContext.runAsUser', 'must not be 0');
  if (pod.runAsNonRoot === false) add('Running as Non-root', 'securityContext.runAsNonRoot', 'must not be false');
  const podSeccomp = pod.seccompProfile?.type;
  if (podSeccomp !== undefined && podSeccomp !== 'RuntimeDefault' && podSeccomp !== 'Localhost') {
    add('Seccomp', 'securityContext.seccompProfile.type', `must be RuntimeDefault or Localhost, not ${podSeccomp}`);
  }

  for (const c of containers) {
    const p = `${c.path}.securityContext`;
    if (c.sc.windowsOptions?.hostProcess === true) add('HostProcess', `${p}.windowsOptions.hostProcess`, 'must not be true');
    if (c.sc.privileged === true) add('Privileged Containers', `${p}.privileged`, 'must not be true');
    if (c.ports.some((port) => (port.hostPort ?? 0) !== 0)) add('Host Ports', `${c.path}.ports`, 'hostPort must be unset or 0');
    checkAppArmor(c.sc, p);
    checkSelinux(c.sc, p);
    if (c.sc.procMount !== undefined && c.sc.procMount !== 'Default') add('/proc Mount Type', `${p}.procMount`, 'must be Default');
    if (c.sc.allowPrivilegeEscalation !== false) add('Privilege Escalation', `${p}.allowPrivilegeEscalation`, 'must be false');
    if (c.sc.runAsNonRoot === false || (c.sc.runAsNonRoot === undefined && pod.runAsNonRoot !== true)) {
      add('Running as Non-root', `${p}.runAsNonRoot`, 'must be true (here or in the pod securityContext)');
    }
    if (c.sc.runAsUser === 0) add('Running as Non-root user', `${p}.runAsUser`, 'must not be 0');
    const seccomp = c.sc.seccompProfile?.type;
    if (seccomp !== undefined && seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      add('Seccomp', `${p}.seccompProfile.type`, `must be RuntimeDefault or Localhost, not ${seccomp}`);
    } else if (seccomp === undefined && podSeccomp === undefined) {
      add('Seccomp', `${p}.seccompProfile.type`, 'must be RuntimeDefault or Localhost (here or in the pod securityContext)');
    }
    if (!(c.sc.capabilities?.drop ?? []).includes('ALL')) add('Capabilities', `${p}.capabilities.drop`, 'must include ALL');
    for (const cap of c.sc.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') add('Capabilities', `${p}.capabilities.add`, `${cap} may not be added (only NET_BIND_SERVICE)`);
    }
  }
  return out;
}
