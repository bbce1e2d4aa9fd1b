import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { ChatSampler, loadTelemetryConfig } from '../src';
import type { SamplingConfig } from '../src';

function config(overrides: Partial<SamplingConfig> = {}): SamplingConfig {
  return { ...loadTelemetryConfig({}).sampling, ratio: 0, ...overrides };
}

const TRACE = '0af7651916cd43dd8448eb211c80319c';

function decide(sampler: ChatSampler, attributes: Record<string, unknown>, ctx = ROOT_CONTEXT) {
  return sampler.shouldSample(ctx, TRACE, 'span', SpanKind.INTERNAL, attributes as never, [])
    .decision;
}

describe('ChatSampler', () => {
  it('drops ordinary root traces at ratio 0 and keeps them at ratio 1', () => {
    expect(decide(new ChatSampler(config()), {})).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(new ChatSampler(config({ ratio: 1 })), {})).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
  });

  it('always keeps debug spans, even under an unsampled parent', () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE,
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
    const sampler = new ChatSampler(config());
    expect(decide(sampler, { 'chat.debug': true }, parent)).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    expect(decide(sampler, {}, parent)).toBe(SamplingDecision.NOT_RECORD);
  });

  it('keeps whitelisted users and sessions from env and at runtime', () => {
    const sampler = new ChatSampler(config({ whitelistUsers: ['alice'] }));
    expect(decide(sampler, { 'chat.user.id': 'alice' })).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(sampler, { 'chat.session.id': 'room' })).toBe(SamplingDecision.NOT_RECORD);
    sampler.setWhitelist({ users: new Set(), sessions: new Set(['room']) });
    expect(decide(sampler, { 'chat.session.id': 'room' })).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
  });

  it('honours per-event switches for new traces', () => {
    const events = { connection: false, session: true, messaging: true, heartbeat: true };
    const sampler = new ChatSampler(config({ ratio: 1, events }));
    expect(decide(sampler, { 'chat.event': 'connection' })).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(sampler, { 'chat.event': 'session' })).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });
});
