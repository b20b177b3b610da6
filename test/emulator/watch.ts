/**
 * Watch streams (`?watch=true`): newline-delimited JSON events
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}` over a
 * chunked response, like kube-apiserver's JSON watch encoding.
 *
 * Start point: resourceVersion unset or "0" sends the current matching objects
 * as ADDED first; resourceVersion N replays history after N (410 Expired as an
 * ERROR event when N is older than the retained history). Selectors are applied
 * to old and new state, so an object leaving the selection is seen as DELETED
 * and one entering it as ADDED. `timeoutSeconds` ends the stream (default 30 min).
 */
import type { ServerResponse } from 'node:http';
import { expired } from './errors.js';
import type { ObjectView, Registry } from './registry.js';
import { fullJson } from './registry.js';
import type { ResourceType } from './resources.js';
import { storageKey } from './resources.js';
import { checkFieldSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { StoredEntry, StoreEvent, WatchEventType } from './store.js';

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  /** Renders an event's object (full JSON by default; a Table row for `kubectl get -w`). */
  render?: (view: ObjectView) => string;
  /** kind and apiVersion of BOOKMARK objects: the resource's by default (PartialObjectMetadata for metadata-only watches). */
  bookmarkType?: { kind: string; apiVersion: string };
}

/** Open watch streams, so that the server can end them on stop(). */
export class WatchHub {
  private readonly active = new Set<() => void>();

  constructor(private readonly registry: Registry) {}

  /** Ends every open watch. */
  closeAll(): void {
    for (const close of [...this.active]) close();
  }

  /** Serves one watch on `res`. Selectors were validated by the caller's request parsing. */
  serve(rt: ResourceType, res: ServerResponse, opts: WatchOptions): void {
    const labelSel = parseLabelSelector(opts.labelSelector);
    const fieldSel = parseFieldSelector(opts.fieldSelector);
    checkFieldSelector(rt, fieldSel);
    const namespace = rt.namespaced ? opts.namespace : undefined;
    const render = opts.render ?? ((view: ObjectView) => fullJson(rt, view));
    const visible = (entry: StoredEntry | undefined): boolean => {
      if (!entry || (namespace !== undefined && entry.namespace !== namespace)) return false;
      if (!matchesLabels(labelSel, entry.obj.metadata.labels)) return false;
      return fieldSel.requirements.length === 0 || matchesFields(fieldSel, this.registry.view(rt, entry).obj);
    };
    const send = (type: WatchEventType | 'BOOKMARK' | 'ERROR', objectJson: string) => {
      if (!res.destroyed) res.write(`{"type":"${type}","object":${objectJson}}\n`);
    };
    const sendEntry = (type: WatchEventType, entry: StoredEntry) => send(type, render(this.registry.view(rt, entry)));

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    const collection = this.registry.store.collection(storageKey(rt));
    const rvParam = opts.resourceVersion ?? '';
    if (rvParam === '' || rvParam === '0' || opts.sendInitialEvents) {
      for (const entry of collection.sortedEntries(namespace)) if (visible(entry)) sendEntry('ADDED', entry);
      if (opts.sendInitialEvents && opts.allowWatchBookmarks) {
        const bookmark = {
          kind: opts.bookmarkType?.kind ?? rt.kind,
          apiVersion: opts.bookmarkType?.apiVersion ?? rt.apiVersion,
          metadata: { resourceVersion: String(this.registry.store.resourceVersion), annotations: { 'k8s.io/initial-events-end': 'true' } },
        };
        send('BOOKMARK', JSON.stringify(bookmark));
      }
    } else {
      const since = Number(rvParam);
      const events = Number.isFinite(since) ? collection.eventsSince(since) : undefined;
      if (!events) {
        const err = expired(`too old resource version: ${rvParam} (${collection.oldestWatchableRv})`);
        send('ERROR', JSON.stringify(err.status));
        res.end();
        return;
      }
      for (const ev of events) this.deliver(ev, visible, sendEntry);
    }

    const unsubscribe = this.registry.store.subscribe(storageKey(rt), (ev) => this.deliver(ev, visible, sendEntry));
    const timeoutMs = (opts.timeoutSeconds && opts.timeoutSeconds > 0 ? opts.timeoutSeconds : 1800) * 1000;
    const timer = setTimeout(() => close(), timeoutMs);
    const close = () => {
      clearTimeout(timer);
      unsubscribe();
      this.active.delete(close);
      if (!res.writableEnded) res.end();
    };
    this.active.add(close);
    res.on('close', close);
  }

  /** Translates a store event into what this watcher sees given its filter. */
  private deliver(
    ev: StoreEvent,
    visible: (e: StoredEntry | undefined) => boolean,
    sendEntry: (type: WatchEventType, e: StoredEntry) => void,
  ): void {
    const now = ev.type === 'DELETED' ? false : visible(ev.entry);
    const before = ev.type === 'ADDED' ? false : visible(ev.previous);
    if (ev.type === 'DELETED') {
      if (before) sendEntry('DELETED', ev.entry);
    } else if (now && before) sendEntry('MODIFIED', ev.entry);
    else if (now) sendEntry('ADDED', ev.entry);
    else if (before) sendEntry('DELETED', ev.entry);
  }
}
