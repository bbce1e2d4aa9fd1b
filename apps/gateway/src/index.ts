export { AuthError, signToken, tokenFromRequest, verifyToken } from './auth';
export type { Identity } from './auth';
export { DEV_AUTH_SECRET, loadConfig } from './config';
export type { GatewayConfig } from './config';
export { ErrorCode, FrameError, parseFrame } from './frames';
export type { ClientFrame } from './frames';
export { buildGateway } from './server';
export type { Gateway } from './server';
