/**
 * The bench's server process (servers.ts starts it): one node process serving the Kubernetes
 * API emulators and s3rver, driven over its IPC channel. It says it is ready (with s3rver's
 * endpoint) once s3rver listens, answers each call with its result, and exits when told to stop,
 * when the driver goes away (the channel closes), or on SIGINT/SIGTERM.
 */
import { type Answer, type Call, type HostOptions, type Ready, ServerHost } from './servers.js';

const send = (m: Ready | Answer) => new Promise<void>((resolve) => process.send?.(m, () => resolve()));
const log = (line: string) => process.stderr.write(`[bench servers ${process.pid}] ${line}\n`);

if (!process.send) throw new Error('server-process.ts is started by test/bench/servers.ts, with an IPC channel');
const host = new ServerHost(JSON.parse(process.env.SS_BENCH_SERVER_OPTIONS ?? '{}') as HostOptions);

let stopping: Promise<void> | undefined;
const stop = (code: number) =>
  (stopping ??= host
    .stop()
    .catch((e) => {
      log(`stopping: ${(e as Error).message}`);
    })
    .finally(() => {
      process.disconnect?.();
      process.exit(code);
    }));

process.on('disconnect', () => void stop(1));
process.once('SIGINT', () => void stop(130));
process.once('SIGTERM', () => void stop(143));

process.on('message', async (m) => {
  const call = m as Call;
  if (call.method === 'stop') {
    await send({ id: call.id, ok: true, value: undefined });
    await stop(0);
    return;
  }
  try {
    const value = await (host[call.method] as (...a: unknown[]) => unknown).apply(host, call.args);
    await send({ id: call.id, ok: true, value });
  } catch (e) {
    await send({ id: call.id, ok: false, error: (e as Error).message });
  }
});

try {
  const s3 = await host.start();
  log(`ready${s3 ? `: s3rver at ${s3.endpoint}` : ''}; Kubernetes API emulators start on demand, each writing its kubeconfig`);
  await send({ ready: true, ...(s3 ? { s3 } : {}) });
} catch (e) {
  await send({ ready: false, error: (e as Error).message });
  await stop(1);
}
