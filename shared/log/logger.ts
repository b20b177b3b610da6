import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { redactor as defaultRedactor, type Redactor } from './redactor.js';

/** Structured JSON logger: `log.info({ namespace, name, fingerprint }, 'secret rotated')`. */
export type Logger = PinoLogger;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * How a line is written: `json`, one JSON object per line (pods, log collectors), or `text`, a
 * line for a person at a terminal (`12:04:05 WARN  message key=value`).
 */
export type LogFormat = 'json' | 'text';

/** Where finished log lines go; `write` receives one line (JSON or text) including its newline. */
export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to standard error, written synchronously so that nothing is lost at exit. */
  sink?: LogSink;
  redactor?: Redactor;
  /** Fields added to every line (job name, run id). */
  base?: Record<string, unknown>;
  /** @default 'json' */
  format?: LogFormat;
}

/**
 * Creates the process logger. Redaction happens at the log stream, so no call site can forget
 * it: each record's sensitive fields are replaced by name, and each finished line is scanned
 * for every value registered with the redactor (plus its JSON-escaped and base64 forms)
 * before it is written. Logs go to stderr; stdout is kept for command output (reports, plans).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const r = options.redactor ?? defaultRedactor;
  const sink = options.sink ?? stderrSink();
  const text = options.format === 'text';
  const stream: DestinationStream = {
    write(line: string) {
      // A text line is made from the sanitized JSON line and scanned again: whatever the JSON
      // form hid, the text form hides too.
      const clean = r.sanitize(line);
      sink.write(text ? r.sanitize(textLine(clean)) : clean);
    },
  };
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? {},
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => r.sanitizeValue(record) as Record<string, unknown>,
        bindings: (bindings) => r.sanitizeValue(bindings) as Record<string, unknown>,
      },
    },
    stream,
  );
}

/** Standard error, written synchronously so that nothing is lost at exit. */
export function stderrSink(): LogSink {
  return pino.destination({ dest: 2, sync: true });
}

/** Fields every line has, which a text line shows in its own place or, for a terminal, not at all. */
const TEXT_OMITTED = new Set(['level', 'time', 'msg', 'job', 'run', 'err']);

/**
 * One JSON log line as a line for a terminal: time of day (UTC), level, message, then the other
 * fields as key=value (strings quoted when they hold spaces, objects as JSON). An error shows its
 * message, and at level error its stack on the lines below.
 */
export function textLine(jsonLine: string): string {
  const rec = JSON.parse(jsonLine) as Record<string, unknown>;
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
  const level = String(rec.level ?? '').toUpperCase();
  const fields = Object.entries(rec)
    .filter(([k]) => !TEXT_OMITTED.has(k))
    .map(([k, v]) => `${k}=${textValue(v)}`);
  const err = rec.err as { message?: unknown; stack?: unknown } | undefined;
  if (err !== undefined) fields.push(`err=${textValue(err.message ?? err)}`);
  const head = [time, level.padEnd(5), String(rec.msg ?? ''), ...fields].join(' ');
  const stack = rec.level === 'error' && typeof err?.stack === 'string' ? `\n${err.stack.replace(/^/gm, '    ')}` : '';
  return `${head}${stack}\n`;
}

function textValue(v: unknown): string {
  if (typeof v !== 'string') return JSON.stringify(v) ?? String(v);
  return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
}

/** A sink that keeps lines in memory; for tests and for the demo summary. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  /** Parsed records. */
  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
