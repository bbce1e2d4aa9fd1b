import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace-base';
import { trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import { Attr } from '@tracechat/contracts';
import type { SamplingEvent } from '@tracechat/contracts';
import type { SamplingConfig } from './config';

/** Span attributes the head sampler reads; set them in the options of the span that starts a trace. */
export const SamplingAttributes = {
  USER: Attr.USER_ID,
  SESSION: Attr.SESSION_ID,
  DEBUG: Attr.DEBUG,
  EVENT: Attr.EVENT,
} as const;

// Decisions are shared, not built per span: the SDK only reads them.
const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const DROPPED: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });

export interface Whitelist {
  readonly users: ReadonlySet<string>;
  readonly sessions: ReadonlySet<string>;
}

/**
 * Head sampling modelled on EMQX: a `debug: true` frame is always sampled; a span with a parent
 * follows the parent's decision; a new trace is dropped when its event kind is switched off,
 * kept for whitelisted users and sessions, and otherwise kept with the configured ratio.
 * Whether a client's own traceparent is adopted at all (follow_traceparent) is decided where the
 * frame is read, since a parent that reaches the sampler is already trusted.
 */
export class ChatSampler implements Sampler {
  private readonly ratio: Sampler;
  private staticList: Whitelist;
  private dynamicList: Whitelist = { users: new Set(), sessions: new Set() };

  constructor(private readonly config: SamplingConfig) {
    this.ratio = new TraceIdRatioBasedSampler(config.ratio);
    this.staticList = {
      users: new Set(config.whitelistUsers),
      sessions: new Set(config.whitelistSessions),
    };
  }

  /** Replaces the runtime whitelist (the one kept in Redis); the env whitelist stays. */
  setWhitelist(list: Whitelist): void {
    this.dynamicList = list;
  }

  eventEnabled(event: SamplingEvent): boolean {
    return this.config.events[event];
  }

  shouldSample(
    ctx: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (attributes[SamplingAttributes.DEBUG] === true) return SAMPLED;
    const parent = trace.getSpanContext(ctx);
    if (parent && trace.isSpanContextValid(parent)) {
      return (parent.traceFlags & 1) === 1 ? SAMPLED : DROPPED;
    }
    const event = attributes[SamplingAttributes.EVENT];
    if (typeof event === 'string' && event in this.config.events) {
      if (!this.config.events[event as SamplingEvent]) return DROPPED;
    }
    if (this.whitelisted(attributes) || this.config.ratio >= 1) return SAMPLED;
    return this.ratio.shouldSample(ctx, traceId, spanName, spanKind, attributes, links);
  }

  private whitelisted(attributes: Attributes): boolean {
    const user = attributes[SamplingAttributes.USER];
    const session = attributes[SamplingAttributes.SESSION];
    return (
      (typeof user === 'string' &&
        (this.staticList.users.has(user) || this.dynamicList.users.has(user))) ||
      (typeof session === 'string' &&
        (this.staticList.sessions.has(session) || this.dynamicList.sessions.has(session)))
    );
  }

  toString(): string {
    return `ChatSampler{ratio=${this.config.ratio}}`;
  }
}
