export { ChatClient, UpgradeRefused } from './client';
export type { ConnectOptions, Frame } from './client';
export { fetchTrace, searchTraces, viewTrace, waitForTrace } from './jaeger';
export type { JaegerSpan, JaegerTrace, TraceView } from './jaeger';
