export { startHealthServer } from './health';
export type { Check, HealthServer } from './health';
export { failStart, runUntilSignal } from './lifecycle';
export type { Closable } from './lifecycle';
