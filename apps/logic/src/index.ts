export { loadConfig } from './config';
export type { LogicConfig } from './config';
export { ChatError, ChatErrorCode } from './errors';
export { buildLogic } from './server';
export type { Logic } from './server';
