import { randomBytes } from 'node:crypto';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { redactor as defaultRedactor, type Logger, type Redactor } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeCaller } from './kube-call.js';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface EventInput {
  subject: EventSubject;
  type: 'Normal' | 'Warning';
  /** UpperCamelCase machine-readable reason, e.g. `Rotated`, `RotationFailed`, `BackupCompleted`. */
  reason: string;
  /** Human-readable; passed through the redactor and truncated to the API limit. */
  message: string;
  /** What was done, e.g. `Rotate`, `Restart`, `Backup`. */
  action?: string;
}

/** Records per-object outcomes as Kubernetes Events (what `kubectl describe` shows). */
export interface EventRecorder {
  record(event: EventInput): Promise<void>;
}

const MAX_MESSAGE = 1024;

/**
 * Writes core/v1 Events in the subject's namespace. Recording never fails a run: an Event
 * that cannot be written (RBAC, API trouble) is logged and dropped. Messages go through the
 * redactor like log lines.
 */
export class KubeEventRecorder implements EventRecorder {
  constructor(
    private readonly api: CoreV1Api,
    private readonly caller: KubeCaller,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly instance: string,
    private readonly redactor: Redactor = defaultRedactor,
  ) {}

  async record(e: EventInput): Promise<void> {
    const now = this.clock.now();
    const message = this.redactor.sanitize(e.message).slice(0, MAX_MESSAGE);
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${e.subject.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`,
        namespace: e.subject.namespace,
      },
      involvedObject: {
        apiVersion: e.subject.apiVersion,
        kind: e.subject.kind,
        name: e.subject.name,
        namespace: e.subject.namespace,
        uid: e.subject.uid,
      },
      type: e.type,
      reason: e.reason,
      message,
      action: e.action,
      source: { component: 'secret-steward' },
      reportingComponent: 'secret-steward',
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.caller.call({ verb: 'create', kind: 'Event', namespace: e.subject.namespace }, () =>
        this.api.createNamespacedEvent({ namespace: e.subject.namespace, body }),
      );
    } catch (err) {
      this.log.warn(
        { err, subject: `${e.subject.kind} ${e.subject.namespace}/${e.subject.name}`, reason: e.reason },
        'could not record Event',
      );
    }
  }
}

/** Keeps Events in memory (dry runs and tests). */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: EventInput[] = [];
  async record(e: EventInput): Promise<void> {
    this.events.push(e);
  }
}
