export { loadConfig } from './config';
export type { GatewayConfig } from './config';
export { buildGateway } from './server';
export type { Gateway } from './server';
