export { ChatClient, UpgradeRefused } from './client';
export type { ConnectOptions, Frame } from './client';
export { fetchTrace, searchTraces, viewTrace, waitForTrace } from './jaeger';
export type { JaegerSpan, JaegerTrace, TraceView } from './jaeger';
export { ManagedProcess, freePort, portInUse } from './process';
export type { ProcessSpec } from './process';
export { DEFAULT_PORTS, REPO_ROOT, jaegerBinary, startStack } from './stack';
export type { ServiceName, Stack, StackOptions, StackPorts } from './stack';
