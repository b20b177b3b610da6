import { type ChildProcess, spawn } from 'node:child_process';
import { commandRuns } from './dependencies.js';
import { freePort } from './free-port.js';

/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port. */
export interface PushgatewayHandle {
  url: string;
  /** The exposition text of everything pushed so far. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** True when Debian's prometheus-pushgateway is installed. */
export function hasPushgateway(): boolean {
  return commandRuns('prometheus-pushgateway', ['--version']);
}

export const PUSHGATEWAY_INSTALL = 'apt-get install prometheus-pushgateway';

export async function startPushgateway(binary = 'prometheus-pushgateway'): Promise<PushgatewayHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every test's
  // gateway would start with what earlier runs (anyone's on this machine) pushed.
  const child: ChildProcess = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`, '--log.level=error', '--persistence.file='], {
    stdio: 'ignore',
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true)); // ENOENT: not installed
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`${binary} exited at startup (is it installed? apt-get install prometheus-pushgateway)`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not become ready on ${url}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    stop: async () => {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}
