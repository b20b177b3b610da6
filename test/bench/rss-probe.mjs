/**
 * Preloaded into each measured node process (`node --import ./test/bench/rss-probe.mjs ...`):
 * samples the V8 heap every 50 ms and, at exit, writes the process's own peak RSS
 * (getrusage ru_maxrss), CPU times and the peak heap figures as JSON to $SS_BENCH_PROBE_FILE.
 * No product code knows about it.
 */
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.SS_BENCH_PROBE_FILE;
if (file) {
  const peak = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0, rss: 0 };
  // With SS_BENCH_PROBE_TIMELINE set, every 4th sample (200 ms) is kept, to see when the peak happens.
  const timeline = process.env.SS_BENCH_PROBE_TIMELINE ? [] : undefined;
  const started = Date.now();
  let n = 0;
  // V8's heap spaces (committed and used MiB) when the committed heap was largest.
  let spaces;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.heapTotal > peak.heapTotal) {
      spaces = Object.fromEntries(
        getHeapSpaceStatistics().map((x) => [x.space_name, [Math.round(x.space_size / 1048576), Math.round(x.space_used_size / 1048576)]]),
      );
    }
    for (const k of Object.keys(peak)) if (m[k] > peak[k]) peak[k] = m[k];
    if (timeline && n++ % 4 === 0)
      timeline.push([
        Date.now() - started,
        ...['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'].map((k) => Math.round(m[k] / 1048576)),
      ]);
  };
  setInterval(sample, 50).unref();
  process.on('exit', () => {
    sample();
    const u = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({
        maxRssBytes: u.maxRSS * 1024,
        userCpuMs: u.userCPUTime / 1000,
        systemCpuMs: u.systemCPUTime / 1000,
        peak,
        spaces,
        ...(timeline ? { timeline } : {}),
      }),
    );
  });
}
