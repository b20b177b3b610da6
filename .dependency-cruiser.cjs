/**
 * The layer rule: `shared/` is a stack of folders, each allowed to import only from the folders
 * below it (never from a peer on its own floor, never upwards), so no folder-level cycle can
 * form; `jobs/` sits on top. `npm run layers` (part of `npm test`) fails on any violation.
 * Parsing TypeScript needs a parser: swc (@swc/core), since TypeScript 7 has no compiler API.
 */
const FLOORS = [
  ['errors'],
  ['config'],
  ['log'],
  ['runtime'],
  ['kube', 'storage', 'crypto', 'metrics'],
  ['backup'],
  ['verify-restore', 'rotate'],
  ['restore', 'adopt', 'rekey'],
  ['status', 'check', 'run'],
];

const folderOf = (name) => `^shared/${name}/`;
const floorOf = new Map(FLOORS.flatMap((names, i) => names.map((n) => [n, i])));

const layerRules = FLOORS.flatMap((names, i) =>
  names.map((name) => {
    const notBelow = [...floorOf].filter(([other, j]) => other !== name && j >= i).map(([other]) => other);
    return {
      name: `layer-${name}`,
      comment: `shared/${name}/ may import only from ${FLOORS.slice(0, i).flat().join(', ') || 'nothing in shared/'} (floors below it)`,
      severity: 'error',
      from: { path: folderOf(name) },
      to: { path: `^(shared/(${notBelow.join('|')})/|jobs/)` },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycle between files',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-folders-known',
      comment: 'every folder of shared/ has a floor in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^shared/', pathNot: `^shared/(${[...floorOf.keys()].join('|')})/` },
      to: {},
    },
    ...layerRules,
    {
      name: 'rotation-backends-independent',
      comment:
        'a rotation backend (shared/rotate/backends/<name>/) imports no other backend: what two backends share lives in shared/rotate/backends/ itself',
      severity: 'error',
      from: { path: '^shared/rotate/backends/([^/]+)/' },
      to: { path: '^shared/rotate/backends/[^/]+/', pathNot: '^shared/rotate/backends/$1/' },
    },
    {
      name: 'rotation-backends-shared-below',
      comment: 'what the rotation backends share (shared/rotate/backends/*.ts) imports no backend; only index.ts, which lists them, does',
      severity: 'error',
      from: { path: '^shared/rotate/backends/[^/]+[.]ts$', pathNot: '^shared/rotate/backends/index[.]ts$' },
      to: { path: '^shared/rotate/backends/[^/]+/' },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { path: '^(shared|jobs)/' },
      to: { path: '^test/' },
    },
    {
      name: 'jobs-are-entrypoints',
      comment: 'nothing in shared/ imports a command entrypoint',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^jobs/' },
    },
  ],
  options: {
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
