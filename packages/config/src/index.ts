export { ConfigError, EnvReader } from './env';
export type { Env } from './env';
export { LOG_LEVELS, MIN_SERVICE_SECRET_LENGTH, SHARED_DEFAULTS, sharedEnv } from './shared';
export type { LogLevel } from './shared';
export { REDACTED, redactUrl } from './redact';
