import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { KubeCaller } from '../../../shared/kube/kube-call.js';
import { listPages } from '../../../shared/kube/list-pages.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { fixedClock } from '../../../shared/runtime/clock.js';

const caller = new KubeCaller({ clock: fixedClock(new Date(0)), log: createLogger({ sink: new MemorySink() }) });
const op = { verb: 'list', kind: 'Secret' } as const;

/** A fake paginated server over `items`; `expireAt` pages answer 410 once. */
function server(items: number[], expireOnce: number[] = []) {
  const requests: Array<{ limit: number; _continue?: string }> = [];
  const expire = new Set(expireOnce);
  return {
    requests,
    fetch: async (req: { limit: number; _continue?: string }) => {
      requests.push(req);
      const start = req._continue ? Number(req._continue) : 0;
      if (req._continue && expire.has(start)) {
        expire.delete(start);
        throw new ApiException(410, 'gone', JSON.stringify({ kind: 'Status', reason: 'Expired', code: 410 }), {});
      }
      const page = items.slice(start, start + req.limit);
      const next = start + page.length;
      return {
        items: page,
        metadata: { resourceVersion: `rv${requests.length}`, _continue: next < items.length ? String(next) : undefined },
      };
    },
  };
}

describe('shared/kube/list-pages', () => {
  it("walks every page in order with the requested limit and the first page's resourceVersion", async () => {
    const s = server(Array.from({ length: 25 }, (_, i) => i));
    const seen: number[] = [];
    const rvs = new Set<string>();

    for await (const page of listPages(caller, op, s.fetch, { pageSize: 10 })) {
      seen.push(...page.items);
      rvs.add(page.resourceVersion);
    }

    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.deepEqual(
      s.requests.map((r) => r.limit),
      [10, 10, 10],
    );
    assert.deepEqual([...rvs], ['rv1']);
  });

  it('restarts from the beginning after 410 Gone and flags the restart', async () => {
    const s = server(
      Array.from({ length: 25 }, (_, i) => i),
      [20],
    );
    let collected: number[] = [];
    let restarts = 0;

    for await (const page of listPages(caller, op, s.fetch, { pageSize: 10 })) {
      if (page.restarted) {
        restarts++;
        collected = [];
      }
      collected.push(...page.items);
    }

    assert.equal(restarts, 1);
    assert.deepEqual(
      collected,
      Array.from({ length: 25 }, (_, i) => i),
    );
    assert.deepEqual(
      s.requests.map((r) => r._continue ?? '-'),
      ['-', '10', '20', '-', '10', '20'],
    );
  });

  it('adapts the page size to keep a page near the byte target', async () => {
    const s = server(Array.from({ length: 100 }, (_, i) => i));

    for await (const page of listPages(caller, op, s.fetch, { pageSize: 10, sizeOf: () => 1000, targetPageBytes: 20_000 })) void page;

    assert.deepEqual(
      s.requests.map((r) => r.limit),
      [10, 20, 20, 20, 20, 20],
    );
  });

  it('gives up after the allowed number of restarts', async () => {
    let calls = 0;
    const fetch = async (req: { limit: number; _continue?: string }) => {
      calls++;
      if (req._continue) throw new ApiException(410, 'gone', JSON.stringify({ reason: 'Expired' }), {});
      return { items: [1], metadata: { _continue: 'next' } };
    };

    await assert.rejects(async () => {
      for await (const page of listPages(caller, op, fetch, { maxRestarts: 2 })) void page;
    }, /410 Expired/);
    assert.equal(calls, 6);
  });
});
