#!/usr/bin/env node
/**
 * `secret-steward <command> [options]`: the one CLI and the container entrypoint.
 * Each CronJob sets only `args` (e.g. `["backup"]`).
 */
/** The oldest Node.js major; package.json engines and devEngines, .nvmrc and .node-version agree (test/tooling/node-version.test.ts). */
const REQUIRED_NODE_MAJOR = 24;

/**
 * With source maps on (the image's and the manifests' NODE_OPTIONS=--enable-source-maps), map
 * only our own files: Node otherwise reads and keeps the source map of every module it loads,
 * and the dependencies ship theirs (@kubernetes/client-node alone 11 MB of them). Stack traces
 * keep pointing into our TypeScript; a dependency's frames show its compiled JavaScript. Runs
 * before any other module is imported (they are all imported dynamically below, after the Node
 * version check: older Node has no getSourceMapsSupport).
 */
async function ownSourceMapsOnly(): Promise<void> {
  const { getSourceMapsSupport, setSourceMapsSupport } = await import('node:module');
  const s = getSourceMapsSupport();
  if (s.enabled && s.nodeModules) setSourceMapsSupport(true, { nodeModules: false, generatedCode: s.generatedCode });
}

async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_NODE_MAJOR) {
    process.stderr.write(
      `secret-steward needs Node.js ${REQUIRED_NODE_MAJOR} or newer; this is ${process.version}.\n` +
        `Run it through npm (npm run cli -- <command>), which uses the project's Node ${REQUIRED_NODE_MAJOR}, or install Node ${REQUIRED_NODE_MAJOR}.\n`,
    );
    return 2;
  }
  await ownSourceMapsOnly();
  const { COMMANDS } = await import('./commands.js');
  const { runCommand } = await import('../shared/runtime/command.js');
  const { TOOL_VERSION } = await import('../shared/runtime/version.js');
  const { renderCommandList } = await import('../shared/config/help.js');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
    process.stdout.write(renderCommandList(COMMANDS.map((c) => c.help)));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`secret-steward ${TOOL_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.help.name === name);
  if (command === undefined) {
    const { nearest } = await import('../shared/config/nearest.js');
    const suggestions = nearest(
      name,
      COMMANDS.map((c) => c.help.name),
      { words: true },
    );
    const hint = suggestions.length > 0 ? ` (did you mean ${suggestions.join(' or ')}?)` : '';
    process.stderr.write(`secret-steward: unknown command "${name}"${hint}. Run 'secret-steward --help' for the list.\n`);
    return 2;
  }
  return runCommand(command, rest);
}

process.exitCode = await main(process.argv.slice(2));
