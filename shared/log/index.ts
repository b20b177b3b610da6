export { Redactor, redactor, REDACTED, MIN_REDACTABLE_LENGTH, isSensitiveField } from './redactor.js';
export { createLogger, MemorySink, LOG_LEVELS, type Logger, type LogLevel, type LogSink, type LoggerOptions } from './logger.js';
