export { ConfigError, type ConfigProblem } from './config-error.js';
export { errorText } from './error-text.js';
export { exitCodeFor } from './exit-code-for.js';
export { ExitCode, type ExitCodeValue } from './exit-codes.js';
export { InterruptedError } from './interrupted-error.js';
export { LockHeldError } from './lock-held-error.js';
export { StewardError } from './steward-error.js';
export { TransientError } from './transient-error.js';
