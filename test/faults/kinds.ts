/**
 * The fault kinds of the matrix: which requests each applies to, how it is armed on the two
 * servers for one request, and the exit codes a run hit by it may end with.
 */
import type { FaultRequest } from '../emulator/index.js';
import { requestInfo } from '../emulator/request-info.js';
import type { FaultAction, FaultRule, RecordedRequest } from '../support/s3-fault-proxy.js';
import type { CaseWorld, ChildJob } from './lab.js';
import { k8sSignature, type Step, s3Signature, type Trigger } from './steps.js';

export const KIND_IDS = [
  'k8s-409',
  'k8s-429',
  'k8s-500',
  'k8s-503',
  'k8s-410-list',
  'k8s-drop',
  'k8s-response-lost',
  's3-500',
  's3-slowdown',
  's3-drop-upload',
  's3-drop-download',
  's3-part-fail',
  's3-truncated-read',
  'sigterm',
  'sigkill',
] as const;

export type KindId = (typeof KIND_IDS)[number];

export interface FaultKind {
  id: KindId;
  /** Where it happens: the API server, the store, or the job's own process (a real child process). */
  layer: 'k8s' | 's3' | 'process';
  description: string;
  /** True when this kind of fault can happen to this request. */
  appliesTo(step: Step): boolean;
  /** Exit codes a run hit by this fault may end with (null: killed by a signal). */
  acceptedCodes: ReadonlyArray<number | null>;
}

/** Exit codes: 0 absorbed; 1 an item or check failed; 3 lock contention (a 409 on the Lease); 4 transient; 143 SIGTERM. */
const API_CODES = [0, 1, 4] as const;

export const KINDS: readonly FaultKind[] = [
  {
    id: 'k8s-409',
    layer: 'k8s',
    description: '409 Conflict (AlreadyExists on a create)',
    appliesTo: (s) => s.server === 'k8s' && s.write,
    acceptedCodes: [0, 1, 3],
  },
  {
    id: 'k8s-429',
    layer: 'k8s',
    description: '429 TooManyRequests, Retry-After: 1',
    appliesTo: (s) => s.server === 'k8s',
    acceptedCodes: API_CODES,
  },
  { id: 'k8s-500', layer: 'k8s', description: '500 InternalError', appliesTo: (s) => s.server === 'k8s', acceptedCodes: API_CODES },
  { id: 'k8s-503', layer: 'k8s', description: '503 ServiceUnavailable', appliesTo: (s) => s.server === 'k8s', acceptedCodes: API_CODES },
  {
    id: 'k8s-410-list',
    layer: 'k8s',
    description: '410 Expired on a list',
    appliesTo: (s) => s.server === 'k8s' && s.op === 'list',
    acceptedCodes: API_CODES,
  },
  {
    id: 'k8s-drop',
    layer: 'k8s',
    description: 'connection dropped mid-request (not executed)',
    appliesTo: (s) => s.server === 'k8s',
    acceptedCodes: API_CODES,
  },
  {
    id: 'k8s-response-lost',
    layer: 'k8s',
    description: 'write committed, response lost (connection reset)',
    appliesTo: (s) => s.server === 'k8s' && s.write,
    acceptedCodes: API_CODES,
  },
  { id: 's3-500', layer: 's3', description: '500 InternalError', appliesTo: (s) => s.server === 's3', acceptedCodes: API_CODES },
  { id: 's3-slowdown', layer: 's3', description: '503 SlowDown', appliesTo: (s) => s.server === 's3', acceptedCodes: API_CODES },
  {
    id: 's3-drop-upload',
    layer: 's3',
    description: 'connection dropped mid-upload',
    appliesTo: (s) => s.server === 's3' && s.hasBody,
    acceptedCodes: API_CODES,
  },
  {
    id: 's3-drop-download',
    layer: 's3',
    description: 'connection dropped mid-download',
    appliesTo: (s) => s.server === 's3' && s.op === 'GetObject',
    acceptedCodes: API_CODES,
  },
  {
    id: 's3-part-fail',
    layer: 's3',
    description: 'a part upload failing on every attempt (500)',
    appliesTo: (s) => s.server === 's3' && s.op === 'UploadPart',
    acceptedCodes: API_CODES,
  },
  {
    id: 's3-truncated-read',
    layer: 's3',
    description: 'a read returning half the bytes with a matching Content-Length',
    appliesTo: (s) => s.server === 's3' && s.op === 'GetObject',
    acceptedCodes: API_CODES,
  },
  {
    id: 'sigterm',
    layer: 'process',
    description: 'SIGTERM to the job process when the request arrives',
    appliesTo: () => true,
    acceptedCodes: [0, 143],
  },
  {
    id: 'sigkill',
    layer: 'process',
    description: 'SIGKILL to the job process once the request is served, before it is answered',
    appliesTo: () => true,
    acceptedCodes: [null],
  },
];

export function kindById(id: string): FaultKind {
  const k = KINDS.find((x) => x.id === id);
  if (k === undefined) throw new Error(`unknown fault kind ${id} (known: ${KIND_IDS.join(', ')})`);
  return k;
}

/** The predicate both servers use to find the case's request. */
function k8sWhen(trigger: Trigger) {
  return (r: FaultRequest) =>
    trigger.check(
      r.seq,
      k8sSignature({ method: r.method, path: r.path, verb: requestInfo(r.method, r.path, new URLSearchParams(r.query)).verb }),
    );
}

function s3When(trigger: Trigger) {
  return (r: RecordedRequest) => trigger.check(r.seq, s3Signature(r));
}

function exited(job: ChildJob): Promise<void> {
  const c = job.child;
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once('exit', () => resolve()));
}

/**
 * Arms `kind` on the server of `step` so that it fires at the trigger's request. Process kinds
 * need the child job (`child`): SIGTERM is sent when the request arrives and the request is
 * served once the job has logged that it will stop; SIGKILL is sent once the request has been
 * served (a write is committed) and the answer is never delivered.
 */
export function arm(kind: FaultKind, step: Step, world: CaseWorld, trigger: Trigger, child?: () => ChildJob): void {
  if (step.server === 'k8s') {
    const when = k8sWhen(trigger);
    const faults = world.emulator.faults;
    switch (kind.id) {
      case 'k8s-409':
        faults.inject({
          when,
          status: 409,
          body:
            step.method === 'POST'
              ? { reason: 'AlreadyExists', message: 'injected: already exists' }
              : { reason: 'Conflict', message: 'injected: the object has been modified' },
        });
        return;
      case 'k8s-429':
        faults.inject({ when, status: 429, retryAfterSeconds: 1 });
        return;
      case 'k8s-500':
        faults.inject({ when, status: 500 });
        return;
      case 'k8s-503':
        faults.inject({ when, status: 503 });
        return;
      case 'k8s-410-list':
        faults.inject({ when, status: 410 });
        return;
      case 'k8s-drop':
        faults.inject({ when, drop: true });
        return;
      case 'k8s-response-lost':
        faults.inject({ when, loseResponse: true });
        return;
      case 'sigterm':
        faults.inject({ when, onFire: () => terminate(child!()) });
        return;
      case 'sigkill':
        faults.inject({ when, loseResponse: true, onFire: () => kill(child!()) });
        return;
    }
  } else {
    const when = s3When(trigger);
    const fail = (action: FaultAction, extra: Partial<FaultRule> = {}) => world.proxy.fail({ when, action, ...extra });
    switch (kind.id) {
      case 's3-500':
        return fail('error-500');
      case 's3-slowdown':
        return fail('slow-down');
      case 's3-drop-upload':
        return fail('drop-mid-upload');
      case 's3-drop-download':
        return fail('drop-mid-download');
      case 's3-part-fail':
        return fail('error-500', { sticky: true });
      case 's3-truncated-read':
        return fail('truncate');
      case 'sigterm':
        return fail('pass', { onFire: () => terminate(child!()) });
      case 'sigkill':
        return fail('lose-response', { onFire: () => kill(child!()) });
    }
  }
  throw new Error(`fault kind ${kind.id} does not apply to ${step.signature}`);
}

async function terminate(job: ChildJob): Promise<void> {
  job.child.kill('SIGTERM');
  // Serve the request only once the job has seen the signal, so that "SIGTERM at request i" is
  // the same point in every run.
  await job.waitForStderr(/termination requested/, 5000);
}

async function kill(job: ChildJob): Promise<void> {
  job.child.kill('SIGKILL');
  await exited(job);
}
