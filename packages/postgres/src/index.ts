export { MigrationError, dropDatabase, ensureDatabase, migrate, readMigrations } from './migrate';
export type { Migration } from './migrate';
export { Pool, createPool } from './pool';
export type { PoolClient } from './pool';
export { migrateOnStart } from './start';
