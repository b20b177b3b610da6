/**
 * Bearer-token authentication: a static token table (like kube-apiserver's
 * --token-auth-file) mapping tokens to users and groups.
 */
import { randomBytes } from 'node:crypto';

/** An authenticated (or anonymous) identity. */
export interface UserInfo {
  username: string;
  groups: string[];
}

/** Identity of requests without credentials when anonymous requests are not admin. */
export const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

/** Outcome of authenticating one request. */
export type AuthResult = { kind: 'user'; user: UserInfo } | { kind: 'anonymous' } | { kind: 'invalid' };

export class TokenAuthenticator {
  private readonly tokens = new Map<string, UserInfo>();

  /** Registers `token` for `username`; `system:authenticated` is always added to the groups. */
  add(token: string, username: string, groups: string[] = []): void {
    const all = [...new Set([...groups, 'system:authenticated'])];
    this.tokens.set(token, { username, groups: all });
  }

  /** Creates a random token for a ServiceAccount identity, as a projected SA token would authenticate. */
  serviceAccountToken(namespace: string, name: string): string {
    const token = `emulator-sa-${namespace}-${name}-${randomBytes(8).toString('hex')}`;
    this.add(token, `system:serviceaccount:${namespace}:${name}`, ['system:serviceaccounts', `system:serviceaccounts:${namespace}`]);
    return token;
  }

  /** Authenticates an `Authorization` header value. Unknown bearer tokens are invalid (401). */
  authenticate(header: string | undefined): AuthResult {
    if (!header) return { kind: 'anonymous' };
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!m) return { kind: 'invalid' };
    const user = this.tokens.get(m[1].trim());
    return user ? { kind: 'user', user } : { kind: 'invalid' };
  }
}
