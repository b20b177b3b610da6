/**
 * What the stand-in kubelet keeps of each container's output: the bytes written so far, and
 * whether the container has ended. Served as `pods/{name}/log` (with `follow=true`, until the
 * container ends), like kubelet's log endpoint behind kube-apiserver's pods/log subresource.
 */
export class PodLogs {
  private readonly logs = new Map<string, { chunks: Buffer[]; ended: boolean; listeners: Set<(chunk: Buffer | null) => void> }>();

  /** The container started: its log exists (empty) from now on. */
  start(namespace: string, pod: string, container: string): void {
    this.logs.set(key(namespace, pod, container), { chunks: [], ended: false, listeners: new Set() });
  }

  append(namespace: string, pod: string, container: string, chunk: Buffer): void {
    const log = this.logs.get(key(namespace, pod, container));
    if (!log || log.ended) return;
    log.chunks.push(chunk);
    for (const l of log.listeners) l(chunk);
  }

  end(namespace: string, pod: string, container: string): void {
    const log = this.logs.get(key(namespace, pod, container));
    if (!log || log.ended) return;
    log.ended = true;
    for (const l of log.listeners) l(null);
    log.listeners.clear();
  }

  /** Forgets the logs of a deleted pod (ending any follower). */
  remove(namespace: string, pod: string): void {
    for (const k of [...this.logs.keys()]) {
      if (!k.startsWith(`${namespace}/${pod}/`)) continue;
      const [, , container] = k.split('/');
      this.end(namespace, pod, container);
      this.logs.delete(k);
    }
  }

  /** The log so far, or undefined when the container never started. */
  text(namespace: string, pod: string, container: string): string | undefined {
    const log = this.logs.get(key(namespace, pod, container));
    return log ? Buffer.concat(log.chunks).toString('utf8') : undefined;
  }

  /**
   * Calls `onChunk` with the log so far, then (when `follow`) with every later chunk; `null`
   * once the container has ended (at once when not following). Returns the unsubscribe function.
   * False when the container never started.
   */
  read(namespace: string, pod: string, container: string, follow: boolean, onChunk: (chunk: Buffer | null) => void): (() => void) | false {
    const log = this.logs.get(key(namespace, pod, container));
    if (!log) return false;
    for (const c of log.chunks) onChunk(c);
    if (!follow || log.ended) {
      onChunk(null);
      return () => {};
    }
    log.listeners.add(onChunk);
    return () => log.listeners.delete(onChunk);
  }
}

function key(namespace: string, pod: string, container: string): string {
  return `${namespace}/${pod}/${container}`;
}
