export { MigrationError, dropDatabase, ensureDatabase, migrate, readMigrations } from './migrate';
export type { Migration } from './migrate';
export { DEFAULT_STATEMENT_TIMEOUT_MS, Pool, createPool } from './pool';
export type { PoolClient, PoolOptions } from './pool';
export { migrateOnStart } from './start';
