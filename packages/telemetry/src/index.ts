export { DEFAULT_OTLP_ENDPOINT, SAMPLING_EVENTS, loadTelemetryConfig } from './config';
export type { SamplingConfig, TelemetryConfig, TracesExporter } from './config';
export { createLogger, REDACTED_PATHS, serializeError } from './logger';
export type { Logger, LoggerSettings } from './logger';
export { incrementCounter, recordHistogram, setGauge } from './metrics';
export {
  batchTracing,
  carrierFromContext,
  contextFromCarrier,
  extractHeaders,
  injectHeaders,
  parseTraceparent,
} from './propagation';
export type { HeaderMap, ParsedTraceparent, TraceCarrier } from './propagation';
export { SpanClock, SpanClockProcessor, spanClockNow } from './span-clock';
export type { ClockSources, SpanClockOptions } from './span-clock';
export { ChatSampler, SamplingAttributes } from './sampler';
export type { Whitelist } from './sampler';
export { setSamplingWhitelist, shutdownTelemetry, startTelemetry } from './sdk';
export { SpanKind, currentTraceId, getTracer, recordError, setAttributes, withSpan } from './spans';
export type { Attributes, Span, SpanOptions } from './spans';
export { startWhitelistSync } from './whitelist-sync';
export type { WhitelistSource, WhitelistSync } from './whitelist-sync';
