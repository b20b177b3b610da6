/**
 * `node --expose-gc test/bench/import-cost.mjs SPEC...`: what importing each module costs in
 * RSS, in order, in one fresh process (after a GC each time). A SPEC is a package name, a deep
 * path (`@kubernetes/client-node/dist/config.js`) or a project file (`./dist/jobs/backup.js`).
 * Each line: the module, what it added, and the RSS after it. Figures are indicative: run each
 * module in its own process to see its cost alone, and several times on a busy machine.
 */
const gc = globalThis.gc ?? (() => {});
const mib = (b) => (b / 1048576).toFixed(1);
const rss = () => {
  gc();
  return process.memoryUsage().rss;
};
let last = rss();
const lines = [`(node itself) ${mib(last)} MiB`];
for (const spec of process.argv.slice(2)) {
  const url = spec.startsWith('.') || spec.startsWith('/') ? new URL(spec, `file://${process.cwd()}/`).href : import.meta.resolve(spec);
  await import(url);
  const now = rss();
  lines.push(`${spec} +${mib(now - last)} MiB = ${mib(now)} MiB`);
  last = now;
}
process.stdout.write(`${lines.join('\n')}\n`);
