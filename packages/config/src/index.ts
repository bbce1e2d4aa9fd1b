export { ConfigError, EnvReader } from './env';
export type { Env } from './env';
