export { deleteRedisKeys, removeNamespace, runNamespace, startIsolatedStack } from './isolated';
export type { IsolatedStack, RunNamespace } from './isolated';
export { ManagedProcess, PortInUse, freePort, freePorts, portInUse } from './process';
export type { ProcessSpec } from './process';
export { DEFAULT_PORTS, REPO_ROOT, jaegerBinary, startStack } from './stack';
export type { ServiceName, Stack, StackOptions, StackPorts } from './stack';
