export { createTestDatabase } from './database';
export type { TestDatabase, TestDatabaseOptions } from './database';
export { testDatabaseBaseUrl, testNatsUrl, testRedisUrl } from './env';
export { PlacementClient, countRows, setupPlacement } from './placement';
export type {
  PlacementKit,
  PlacementKitOptions,
  PlacementServer,
  RunningPlacement,
} from './placement';
export { createTestRedis } from './redis';
export type { TestRedis } from './redis';
export { setup } from './stack';
export type { TestStack } from './stack';
export { WaitTimeout, assertAbsentAfterControl, waitFor } from './wait';
export type { WaitOptions } from './wait';
export {
  ChatClient,
  UpgradeRefused,
  fetchTrace,
  searchTraces,
  viewTrace,
  waitForTrace,
} from '@tracechat/client';
export type { ConnectOptions, Frame, JaegerSpan, JaegerTrace, TraceView } from '@tracechat/client';
export {
  DEFAULT_PORTS,
  ManagedProcess,
  PortInUse,
  REPO_ROOT,
  freePort,
  freePorts,
  jaegerBinary,
  runNamespace,
} from '@tracechat/cli';
export type { ProcessSpec, RunNamespace, ServiceName, StackPorts } from '@tracechat/cli';
