export { DEFAULT_OTLP_ENDPOINT, SAMPLING_EVENTS, loadTelemetryConfig } from './config';
export type { SamplingConfig, TelemetryConfig } from './config';
export { createLogger, REDACTED_PATHS } from './logger';
export type { Logger, LoggerSettings } from './logger';
export { incrementCounter, recordHistogram, setGauge } from './metrics';
export {
  carrierFromContext,
  contextFromCarrier,
  extractHeaders,
  injectHeaders,
  parseTraceparent,
} from './propagation';
export type { HeaderMap, ParsedTraceparent, TraceCarrier } from './propagation';
export { ChatSampler, SamplingAttributes } from './sampler';
export type { Whitelist } from './sampler';
export {
  samplingEventEnabled,
  setSamplingWhitelist,
  shutdownTelemetry,
  startTelemetry,
  telemetryConfig,
} from './sdk';
export {
  SpanKind,
  activeSpan,
  addEvent,
  currentTraceId,
  getTracer,
  recordError,
  setAttributes,
  withSpan,
} from './spans';
export type { Attributes, Span, SpanOptions } from './spans';
export { startTestTracing } from './testing';
export type { TestTracing } from './testing';
export { startWhitelistSync } from './whitelist-sync';
export type { WhitelistSource, WhitelistSync } from './whitelist-sync';
