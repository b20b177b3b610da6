export {
  createLogger,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogSink,
  MemorySink,
  stderrSink,
  textLine,
} from './logger.js';
export { isSensitiveField, MIN_REDACTABLE_LENGTH, REDACTED, Redactor, redactor } from './redactor.js';
export { type StatusLine, TerminalStatusLine } from './status-line.js';
