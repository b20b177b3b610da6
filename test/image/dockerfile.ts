/**
 * A small Dockerfile reader for tests that check an image without a Docker engine: it splits
 * a Dockerfile into stages and instructions (comments, line continuations, exec and shell
 * forms, `ARG` defaults substituted into `FROM`), and answers whether a path is in the build
 * context under a .dockerignore. It covers the syntax our Dockerfile uses, not heredocs or a
 * changed escape character.
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY... */
  keyword: string;
  /** The text after the keyword, continuations joined. */
  raw: string;
  /** For exec form (`["a", "b"]`): the parsed array. */
  exec?: string[];
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  /** `AS name`, or the index as a string. */
  name: string;
  /** The image after global ARG substitution. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** A COPY or ADD: `--from`, sources and destination (relative to the stage's WORKDIR). */
export interface CopyInstruction {
  from?: string;
  sources: string[];
  destination: string;
  /** Absolute destination, resolved against the WORKDIR in force. */
  absoluteDestination: string;
}

function joinLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current: { text: string; line: number } | undefined;
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, '');
    if (current === undefined && /^\s*(#.*)?$/.test(line)) return; // comment or blank between instructions
    if (current !== undefined && /^\s*#/.test(line)) return; // comment inside a continuation
    const continued = /\\\s*$/.test(line);
    const body = continued ? line.replace(/\\\s*$/, '') : line;
    current = current === undefined ? { text: body.trim(), line: i + 1 } : { text: `${current.text} ${body.trim()}`, line: current.line };
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current !== undefined) out.push(current);
  return out;
}

function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g,
    (_m, a: string | undefined, def: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      return vars[name] ?? def ?? '';
    },
  );
}

/** Parses a Dockerfile's text. Throws on an instruction before the first FROM other than ARG. */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const { text: logical, line } of joinLines(text)) {
    const m = /^(\w+)\s*(.*)$/s.exec(logical);
    if (!m) throw new Error(`line ${line}: cannot parse "${logical}"`);
    const keyword = m[1].toUpperCase();
    const raw = m[2].trim();
    let exec: string[] | undefined;
    if (raw.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) exec = parsed;
      } catch {
        // shell form that happens to start with [
      }
    }
    if (keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(raw);
      if (!f) throw new Error(`line ${line}: cannot parse FROM ${raw}`);
      stages.push({ name: f[2] ?? String(stages.length), from: substitute(f[1], globalArgs), instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`line ${line}: ${keyword} before the first FROM`);
      const [name, ...value] = raw.split('=');
      globalArgs[name.trim()] = value.join('=').replace(/^"(.*)"$/, '$1');
      continue;
    }
    stages[stages.length - 1].instructions.push({ keyword, raw, exec, line });
  }
  return { globalArgs, stages };
}

/** The stage's instructions with a keyword. */
export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The stage's COPY/ADD instructions, destinations resolved against WORKDIR. */
export function copies(stage: Stage): CopyInstruction[] {
  let workdir = '/';
  const out: CopyInstruction[] = [];
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') workdir = i.raw.startsWith('/') ? i.raw : `${workdir.replace(/\/$/, '')}/${i.raw}`;
    if (i.keyword !== 'COPY' && i.keyword !== 'ADD') continue;
    const words = i.exec ?? i.raw.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const destination = paths[paths.length - 1];
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    const resolved = destination.startsWith('/') ? destination : `${workdir.replace(/\/$/, '')}/${destination.replace(/^\.\/?/, '')}`;
    out.push({ from, sources: paths.slice(0, -1), destination, absoluteDestination: resolved.replace(/\/$/, '') || '/' });
  }
  return out;
}

/** The WORKDIR in force at the end of a stage. */
export function finalWorkdir(stage: Stage): string {
  return instructions(stage, 'WORKDIR').reduce((dir, i) => (i.raw.startsWith('/') ? i.raw : `${dir.replace(/\/$/, '')}/${i.raw}`), '/');
}

/** `LABEL a="x" b=y` pairs of a stage, ARG-substituted with the given values. */
export function labels(stage: Stage, args: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of instructions(stage, 'LABEL')) {
    for (const m of i.raw.matchAll(/([\w.-]+)=("((?:[^"\\]|\\.)*)"|\S+)/g)) out[m[1]] = substitute(m[3] ?? m[2], args);
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a path (relative to the context root, `/`-separated) is sent to the builder under
 * these .dockerignore rules: the last matching pattern wins, `!` re-includes, and a pattern
 * matching a directory matches everything below it (as in Docker's moby/patternmatcher).
 */
export function inBuildContext(path: string, dockerignore: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ include: l.startsWith('!'), re: globToRegExp(l.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const parts = path.replace(/^\.\/|\/$/g, '').split('/');
  let included = true;
  for (const rule of rules) {
    const matches = parts.some((_p, i) => rule.re.test(parts.slice(0, i + 1).join('/')));
    if (matches) included = rule.include;
  }
  return included;
}
