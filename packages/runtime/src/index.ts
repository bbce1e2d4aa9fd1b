export { runChecks, startHealthServer } from './health';
export type { Check, HealthServer, Readiness } from './health';
export { failStart, runUntilSignal } from './lifecycle';
export type { Closable } from './lifecycle';
export { runService } from './service';
export type { ServiceSpec } from './service';
