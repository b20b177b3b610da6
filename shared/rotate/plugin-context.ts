import type { BackendStepContext } from './backend.js';
import type { Rotation, RotationDeps } from './rotation.js';
import { type PolicyReferrer, readReferencedSecret } from './secret-access.js';
import type { GenerationContext } from './values.js';

/**
 * What the plug-ins see of a rotation: the generators (step 1, and the templates re-rendered by
 * the finish) and the policy's backend (steps 2 and 3, and the set-back of a failed test or a
 * rollback). Both read other Secrets of the namespace through `readSecret`, which lets them read
 * only the Secrets the policy declares and that allow it (`secret-steward.io/allow-references`),
 * and registers every value it returns with the redactor.
 */

const referrerOf = (rot: Rotation): PolicyReferrer => ({
  namespace: rot.namespace,
  name: rot.name,
  versioned: rot.policy.strategy === 'versioned',
  references: rot.policy.references,
});

export function generationContext(rot: Rotation, deps: RotationDeps): GenerationContext {
  return {
    namespace: rot.namespace,
    secretName: rot.name,
    now: deps.clock.now(),
    readSecret: (name, use) => readReferencedSecret(deps, referrerOf(rot), name, use),
    register: (v) => deps.register(v),
    warn: (message) => {
      rot.warn(message);
      deps.log.warn({ secret: rot.label, rotation: rot.id }, message);
    },
  };
}

/**
 * The context of one backend call: every key before (`current`) and after (`pending`) the
 * change the call makes; `reverting` when it puts back the values consumers still use.
 */
export function backendContext(
  rot: Rotation,
  deps: RotationDeps,
  current: ReadonlyMap<string, Buffer>,
  pending: ReadonlyMap<string, Buffer>,
  reverting = false,
): BackendStepContext {
  return {
    namespace: rot.namespace,
    secretName: rot.name,
    rotationId: rot.id,
    config: rot.policy.backend!.config,
    current,
    pending,
    reverting,
    readSecret: (name, use) => readReferencedSecret(deps, referrerOf(rot), name, use),
    log: deps.log.child({ secret: rot.label, rotation: rot.id, backend: rot.policy.backend!.backend.name }),
    clock: deps.clock,
    signal: deps.shutdown.signal,
    register: (v) => deps.register(v),
  };
}
