import type { ExportedSecret } from '../backup/secret-export.js';
import { matchesSelector, parseLabelSelector, type Requirement } from '../kube/label-selector.js';
import type { NamespaceMapping } from './restore-settings.js';

/**
 * Which Secrets of a backup a restore covers, and where each goes. Namespaces and names are as
 * they are IN THE BACKUP; `--map-namespace` only changes where they are written.
 */
export class RestoreSelection {
  private readonly namespaces: ReadonlySet<string>;
  /** `namespace/name` keys requested with --name. */
  readonly names: ReadonlySet<string>;
  private readonly selector: Requirement[] | undefined;
  private readonly mapping: ReadonlyMap<string, string>;
  /** Target namespaces a namespaced installation may write into; undefined: cluster-wide. */
  private readonly scope: ReadonlySet<string> | undefined;

  constructor(o: {
    namespaces: readonly string[];
    names: readonly string[];
    selector?: string;
    mapping: readonly NamespaceMapping[];
    /** --scope-namespaces: Secrets whose target namespace is outside are not selected ({@link outsideScope}). */
    scope?: readonly string[];
  }) {
    this.namespaces = new Set(o.namespaces);
    this.scope = o.scope === undefined ? undefined : new Set(o.scope);
    const names = new Set<string>();
    for (const n of o.names) {
      if (n.includes('/')) names.add(n);
      else for (const ns of o.namespaces) names.add(`${ns}/${n}`);
    }
    this.names = names;
    this.selector = o.selector === undefined ? undefined : parseLabelSelector(o.selector);
    this.mapping = new Map(o.mapping.map((m) => [m.from, m.to]));
  }

  selects(s: ExportedSecret): boolean {
    const { namespace, name } = s.metadata;
    if (this.outsideScope(namespace)) return false;
    if (this.names.size > 0) {
      if (!this.names.has(`${namespace}/${name}`)) return false;
    } else if (this.namespaces.size > 0 && !this.namespaces.has(namespace)) {
      return false;
    }
    return this.selector === undefined || matchesSelector(this.selector, s.metadata.labels);
  }

  /**
   * True when Secrets of backup namespace `ns` would be restored outside the scope, so are not
   * selected. Settings validation refuses an explicit selection outside it; this leaves out the
   * rest of a cluster-wide backup, and the restore reports each namespace left out.
   */
  outsideScope(ns: string): boolean {
    return this.scope !== undefined && !this.scope.has(this.targetNamespace(ns));
  }

  /** Where a Secret of backup namespace `ns` is restored. */
  targetNamespace(ns: string): string {
    return this.mapping.get(ns) ?? ns;
  }

  /** Mappings whose source namespace selected nothing (probably a typo). */
  unusedMappings(seen: ReadonlySet<string>): string[] {
    return [...this.mapping.keys()].filter((from) => !seen.has(from));
  }
}
