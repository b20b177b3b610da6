import { isIP } from 'node:net';
import { isHostName } from './database-config.js';

/**
 * Where the admin credential of alternating-users (`backend.adminSecretRef`) may be sent: only
 * to a host the admin Secret itself names, in its `host` key: one host name or address, or
 * several separated by commas (libpq's form for several hosts), e.g. `db.shop.svc,10.0.0.7`.
 *
 * The key's name is fixed on purpose: the policy that refers to the admin Secret is written by
 * whoever may write the rotated Secret, and it chooses where to connect (`backend.host`, the
 * Secret's `host` key); it must not also choose which of the admin Secret's keys allows that.
 * Names match case-insensitively and exactly (no wildcard, no DNS lookup: `db` does not allow
 * `db.shop.svc`); addresses match as addresses (`::1` and `0:0::1` are one). The port is not
 * bound: another port of an allowed host is the same operator's server.
 */

/** The admin Secret's key that lists the hosts its credential may go to. */
export const ADMIN_HOST_KEY = 'host';

function canonical(host: string): string {
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * Why the admin credential must not go to `host`, or undefined when the admin Secret allows
 * it. `where` names the admin Secret in the message; entries that are not a host name or an
 * address are never echoed (the key might hold anything).
 */
export function adminHostProblem(admin: ReadonlyMap<string, Buffer>, host: string, where: string): string | undefined {
  const raw = admin.get(ADMIN_HOST_KEY);
  if (raw === undefined) {
    return `${where} does not name the database host its credential may be sent to: add a ${ADMIN_HOST_KEY} key to it holding ${host} (several hosts: comma-separated)`;
  }
  const entries = raw
    .toString('utf8')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const valid = entries.filter((h) => isIP(h) !== 0 || isHostName(h.replace(/\.$/, '')));
  if (valid.length < entries.length)
    return `${where}: its ${ADMIN_HOST_KEY} key holds an entry that is not a host name or an address (expected names or addresses separated by commas)`;
  if (valid.some((h) => canonical(h) === canonical(host))) return undefined;
  return `${where} allows its credential to be sent only to ${valid.join(', ') || 'no host'} (its ${ADMIN_HOST_KEY} key), not to the policy's database host ${host}; if that server should receive it, add ${host} to the admin Secret's ${ADMIN_HOST_KEY} key`;
}
