import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { redactor as defaultRedactor, type Redactor } from './redactor.js';

/** Structured JSON logger: `log.info({ namespace, name, fingerprint }, 'secret rotated')`. */
export type Logger = PinoLogger;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Where finished log lines go; `write` receives one JSON line including its newline. */
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
  const stream: DestinationStream = {
    write(line: string) {
      sink.write(r.sanitize(line));
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
