import type { RotationStrategy } from '../../../../shared/rotate/policy.js';
import {
  nextWork,
  ROTATION_STATES,
  type RotationState,
  STEP_RECORDS,
  STRATEGIES,
  TRANSITIONS,
  type Work,
} from '../../../../shared/rotate/rotation-steps.js';

/**
 * The part of shared/rotate/README.md that is generated from shared/rotate/rotation-steps.ts:
 * where each step is recorded and where a rerun resumes, then per strategy the state diagram
 * and the transition table. rotation-steps.test.ts compares it with the README.
 */

export const BEGIN =
  '<!-- generated from shared/rotate/rotation-steps.ts by test/shared/rotate/rotation-steps.test.ts (UPDATE_ROTATE_README=1 writes it) -->';
export const END = '<!-- /generated -->';

const WORK_TEXT: Record<Work, string> = {
  create: 'create (if the Secret is still due)',
  set: 'set',
  test: 'test',
  finish: 'finish',
  'roll-out': 'roll out and verify',
  'restore-consumers': 'restore the consumers, verify them, record the rollback',
  nothing: 'nothing for this rotation (a companion left behind is deleted)',
};

const STRATEGY_TEXT: Record<RotationStrategy, string> = { 'in-place': 'in place', versioned: 'versioned' };
const COMPANION: Record<RotationStrategy, string> = { 'in-place': '`<name>-pending`', versioned: 'the new version `<base>-v<N>`' };

const code = (s: string) => `\`${s}\``;

/** True when a rotation of `strategy` can be at `state`. */
function reaches(state: RotationState, strategy: RotationStrategy): boolean {
  return state === 'new' || state === 'ended' || STEP_RECORDS[state][strategy] !== undefined;
}

function recordedIn(state: RotationState, strategy: RotationStrategy): string {
  if (state === 'new') return 'nothing yet';
  if (state === 'ended') return 'the Secret: `last-outcome` names the rotation';
  const on = STEP_RECORDS[state][strategy];
  if (on === undefined) return '-';
  return `${on === 'head' ? 'the Secret' : COMPANION[strategy]}: ${code(`rotation-step: ${state}`)}`;
}

function rerun(state: RotationState): string {
  const per = STRATEGIES.filter((s) => reaches(state, s)).map((s) => {
    const [withBackend, without] = [nextWork(state, s, true), nextWork(state, s, false)];
    const text = withBackend === without ? WORK_TEXT[without] : `${WORK_TEXT[withBackend]} with a backend, else ${WORK_TEXT[without]}`;
    return { s, text };
  });
  if (per.every((p) => p.text === per[0].text)) return per[0].text;
  return per.map((p) => `${STRATEGY_TEXT[p.s]}: ${p.text}`).join('; ');
}

function stepsTable(): string[] {
  const rows = ROTATION_STATES.map(
    (state) => `| ${code(state)} | ${recordedIn(state, 'in-place')} | ${recordedIn(state, 'versioned')} | ${rerun(state)} |`,
  );
  return ['| state | in place: recorded in | versioned: recorded in | a rerun after a crash here |', '| --- | --- | --- | --- |', ...rows];
}

/** A Mermaid state diagram of one strategy: one edge per pair of states, naming its events. */
function diagram(strategy: RotationStrategy): string[] {
  const edges = new Map<string, string[]>();
  for (const t of TRANSITIONS.filter((x) => x.strategy === strategy)) {
    for (const from of t.from) {
      const key = `${from} --> ${t.to === 'unchanged' ? from : t.to}`;
      edges.set(key, [...(edges.get(key) ?? []), t.event]);
    }
  }
  const id = (s: string) => s.replace('-', '_');
  return [
    '```mermaid',
    'stateDiagram-v2',
    '  state "rolling-back" as rolling_back',
    '  [*] --> new',
    ...[...edges].map(([key, events]) => {
      const [from, to] = key.split(' --> ');
      return `  ${id(from)} --> ${id(to)}: ${events.join(', ')}`;
    }),
    '  ended --> [*]',
    '```',
  ];
}

function transitionTable(strategy: RotationStrategy): string[] {
  const rows = TRANSITIONS.filter((t) => t.strategy === strategy).map(
    (t) =>
      `| ${t.from.map(code).join(', ')} | ${code(t.event)} | ${t.to === 'unchanged' ? 'unchanged' : code(t.to)} | ${t.when} | ${t.writes} |`,
  );
  return ['| from | event | to | when | writes |', '| --- | --- | --- | --- | --- |', ...rows];
}

/** The generated section, markers included. */
export function renderStepsDoc(): string {
  return [
    BEGIN,
    '',
    '### Where each step is recorded, and where a rerun resumes',
    '',
    ...stepsTable(),
    '',
    ...STRATEGIES.flatMap((s) => [
      `### ${s === 'in-place' ? 'In place' : 'Versioned'}: transitions`,
      '',
      ...diagram(s),
      '',
      ...transitionTable(s),
      '',
    ]),
    END,
  ].join('\n');
}
