export { deleteRedisKeys, removeNamespace, runNamespace, startIsolatedStack } from './isolated';
export type { IsolatedStack, RunNamespace } from './isolated';
export {
  DEFAULT_RESTART_POLICY,
  ManagedProcess,
  PortInUse,
  freePort,
  freePorts,
  portInUse,
} from './process';
export type { ProcessSpec, RestartPolicy } from './process';
export { SOAK_FAULTS, formatSoakReport, runSoak, startNatsServer } from './soak';
export type { SoakFault, SoakOptions, SoakPhase, SoakReceiverReport, SoakReport } from './soak';
export { DEFAULT_PORTS, REPO_ROOT, jaegerBinary, startStack } from './stack';
export type { ServiceName, Stack, StackOptions, StackPorts, StackProgress } from './stack';
