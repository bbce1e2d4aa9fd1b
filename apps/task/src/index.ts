export { loadConfig } from './config';
export type { TaskConfig } from './config';
export { buildTask } from './server';
export type { Task } from './server';
