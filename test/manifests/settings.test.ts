import assert from 'node:assert/strict';
import { COMMANDS } from '../../jobs/commands.js';
import { envName, flagName } from '../../shared/config/options.js';
import { allContainers, describeObject, kustomizationDirs, type ManifestObject, podTemplatesOf, renderManifests } from './render.js';

/** ConfigMaps a restore-only rendering uses come from the installed base. */
async function configMapsFor(dir: string): Promise<Map<string, Record<string, string>>> {
  const objects = [...(await renderManifests('manifests/base')), ...(await renderManifests(dir))];
  return new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, (o.data ?? {}) as Record<string, string>]));
}

describe('manifests: settings match the commands', () => {
  for (const dir of kustomizationDirs()) {
    it(`${dir}: each container runs a real subcommand`, async () => {
      const templates = (await renderManifests(dir)).flatMap(podTemplatesOf);

      for (const t of templates) {
        for (const { container } of allContainers(t.spec)) {
          const args = (container.args ?? []) as string[];
          assert.ok(
            COMMANDS.some((c) => c.help.name === args[0]),
            `${describeObject(t.owner)}: unknown subcommand ${args[0]}`,
          );
        }
      }
    });

    it(`${dir}: every flag and SECRET_STEWARD_ variable is a setting of the command it is given to`, async () => {
      const templates = (await renderManifests(dir)).flatMap(podTemplatesOf);
      const configMaps = await configMapsFor(dir);
      const problems: string[] = [];

      for (const t of templates) {
        for (const { container } of allContainers(t.spec)) {
          const [name, ...rest] = (container.args ?? []) as string[];
          const command = COMMANDS.find((c) => c.help.name === name)!;
          const settings = Object.entries(command.settings) as [string, { env?: boolean; extraEnv?: string[] }][];
          const flags = new Set(settings.flatMap(([key]) => [`--${flagName(key)}`, `--no-${flagName(key)}`]));
          const variables = new Set(settings.flatMap(([key, s]) => [...(s.env === false ? [] : [envName(key)]), ...(s.extraEnv ?? [])]));
          for (const arg of rest.filter((a) => a.startsWith('--'))) {
            if (!flags.has(arg.split('=')[0])) problems.push(`${describeObject(t.owner)}: ${name} has no option ${arg}`);
          }
          const sources = ((container.envFrom ?? []) as { configMapRef?: { name: string } }[])
            .map((e) => e.configMapRef?.name)
            .filter((n): n is string => n !== undefined);
          for (const source of sources) {
            const data = configMaps.get(source);
            if (data === undefined) {
              problems.push(`${describeObject(t.owner)}: ConfigMap ${source} is not rendered`);
              continue;
            }
            for (const key of Object.keys(data).filter((k) => k.startsWith('SECRET_STEWARD_'))) {
              if (!variables.has(key)) problems.push(`${describeObject(t.owner)}: ${name} has no setting ${key} (ConfigMap ${source})`);
            }
          }
        }
      }

      assert.deepEqual(problems, []);
    });
  }

  it('every ConfigMap is consumed by some pod', async () => {
    const objects = [
      ...(await renderManifests('manifests/base')),
      ...(await renderManifests('manifests/jobs/restore')),
      ...(await renderManifests('manifests/jobs/rekey')),
    ];
    const consumed = new Set(
      objects
        .flatMap(podTemplatesOf)
        .flatMap((t) =>
          allContainers(t.spec).flatMap(({ container }) =>
            ((container.envFrom ?? []) as { configMapRef?: { name: string } }[]).map((e) => e.configMapRef?.name),
          ),
        ),
    );

    const unused = objects.filter((o: ManifestObject) => o.kind === 'ConfigMap' && !consumed.has(o.metadata.name)).map(describeObject);

    assert.deepEqual(unused, []);
  });
});
