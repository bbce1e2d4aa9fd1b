import { context, diag, trace } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';
import { hrTimeToMicroseconds } from '@opentelemetry/core';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace-base';
import { SpanClock, SpanClockProcessor, spanClockNow } from '../src';
import { startTestTracing } from '../src/testing';
import type { TestTracing } from '../src/testing';

/** Busy-waits `ms` of monotonic time (the spans under test must start that far apart). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // waiting
  }
}

/** A monotonic clock and a wall clock the test moves by hand. */
function fakeSources(wallOffset = 1_800_000_000_000.25) {
  const state = { p: 1000, wallOffset };
  return {
    state,
    sources: {
      monotonic: () => state.p,
      wall: () => Math.floor(state.p + state.wallOffset),
    },
  };
}

function startUs(span: ReadableSpan): number {
  return hrTimeToMicroseconds(span.startTime);
}

describe('SpanClock — the process clock', () => {
  it('is monotonic and sub-millisecond over many readings', () => {
    const readings = Array.from({ length: 5000 }, () => spanClockNow());
    for (let i = 1; i < readings.length; i++)
      expect(readings[i]).toBeGreaterThanOrEqual(readings[i - 1]!);
    const fractional = readings.filter((t) => t % 1 !== 0).length;
    expect(fractional / readings.length).toBeGreaterThan(0.9);
    const distinct = new Set(readings).size;
    expect(distinct).toBeGreaterThan(100);
  });

  it('is anchored within 1 ms of Date.now()', () => {
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const t = spanClockNow();
      const after = Date.now();
      // Date.now() is the floor of the true wall time
      expect(t).toBeGreaterThanOrEqual(before - 1);
      expect(t).toBeLessThanOrEqual(after + 1 + 1);
      spin(0.3);
    }
  });
});

describe('SpanClock — drift correction', () => {
  it('anchors on the wall clock tick to a fraction of a millisecond', () => {
    const { state, sources } = fakeSources();
    const clock = new SpanClock(sources, {});
    // the anchor's wait moves no fake time: it falls back to the middle of the millisecond
    expect(Math.abs(clock.now() - (state.p + state.wallOffset))).toBeLessThanOrEqual(0.5);
  });

  it('slews towards a wall clock that went back, never going back itself', () => {
    const { state, sources } = fakeSources();
    const clock = new SpanClock(sources, { recheckMs: 100, slewRate: 0.05 });
    const start = clock.now();
    state.wallOffset -= 20; // the wall clock steps 20 ms back
    let last = start;
    const errors: number[] = [];
    for (let i = 0; i < 1000; i++) {
      state.p += 1;
      const t = clock.now();
      expect(t).toBeGreaterThan(last);
      // never faster or slower than the slew rate allows
      // (1e-3: a double holds epoch milliseconds to ~0.25 µs)
      expect(t - last).toBeGreaterThanOrEqual(1 - 0.05 - 1e-3);
      expect(t - last).toBeLessThanOrEqual(1 + 0.05 + 1e-3);
      last = t;
      errors.push(t - (state.p + state.wallOffset));
    }
    // 20 ms at 5 % takes 400 ms, found within one 100 ms recheck: caught up by then
    expect(Math.abs(errors[errors.length - 1]!)).toBeLessThanOrEqual(1);
    expect(Math.abs(errors[50]!)).toBeGreaterThan(10);
  });

  it('slews forward to a wall clock a little ahead and jumps to one far ahead', () => {
    const { state, sources } = fakeSources();
    const clock = new SpanClock(sources, { recheckMs: 100, slewRate: 0.05, stepForwardMs: 1000 });
    state.wallOffset += 5;
    state.p += 200;
    clock.now();
    state.p += 200;
    expect(Math.abs(clock.now() - (state.p + state.wallOffset))).toBeLessThanOrEqual(1);

    state.wallOffset += 60_000;
    state.p += 100;
    const t = clock.now();
    expect(Math.abs(t - (state.p + state.wallOffset))).toBeLessThanOrEqual(1);
  });

  it('leaves an in-sync clock alone', () => {
    // anchored exactly: the wall clock is in the middle of its millisecond
    const { state, sources } = fakeSources(1_800_000_000_000.5);
    const clock = new SpanClock(sources, { recheckMs: 10 });
    const first = clock.now() - state.p;
    for (let i = 0; i < 100; i++) {
      state.p += 7.3;
      expect(clock.now() - state.p).toBeCloseTo(first, 6);
    }
  });
});

describe('SpanClockProcessor — span times', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(() => tracing.shutdown());
  beforeEach(() => tracing.reset());

  const tracer = () => trace.getTracer('span-clock-test');

  it('gives spans started without a time a fractional-millisecond start on the span clock', () => {
    for (let i = 0; i < 50; i++) {
      const before = spanClockNow();
      const span = tracer().startSpan(`s${i}`);
      const after = spanClockNow();
      spin(0.05);
      span.end();
      const [done] = tracing.exporter.getFinishedSpans().slice(-1);
      const startMs = startUs(done!) / 1000;
      expect(startMs).toBeGreaterThanOrEqual(before - 0.001);
      expect(startMs).toBeLessThanOrEqual(after + 0.001);
      expect(hrTimeToMicroseconds(done!.duration)).toBeGreaterThanOrEqual(40);
    }
    const spans = tracing.exporter.getFinishedSpans();
    const whole = spans.filter((s) => startUs(s) % 1000 === 0).length;
    expect(whole).toBeLessThanOrEqual(2);
  });

  it('keeps an explicit start time and ends a span without an end time on the span clock', () => {
    const explicit = Date.now() - 5; // whole milliseconds, on purpose
    const span = tracer().startSpan('explicit', { startTime: explicit });
    spin(0.2);
    const before = spanClockNow();
    span.end();
    const after = spanClockNow();
    const [done] = tracing.exporter.getFinishedSpans();
    expect(startUs(done!)).toBe(explicit * 1000);
    const endMs = hrTimeToMicroseconds(done!.endTime) / 1000;
    expect(endMs).toBeGreaterThanOrEqual(before - 0.001);
    expect(endMs).toBeLessThanOrEqual(after + 0.001);
  });

  it('keeps an explicit end time', () => {
    const start = spanClockNow();
    const span = tracer().startSpan('both', { startTime: start });
    span.end(start + 0.125);
    const [done] = tracing.exporter.getFinishedSpans();
    expect(hrTimeToMicroseconds(done!.duration)).toBeCloseTo(125, 0);
  });

  it('never starts a child before its parent, nested several levels deep', () => {
    const depth = (level: number): void => {
      tracer().startActiveSpan(`level${level}`, (span) => {
        if (level < 6) {
          depth(level + 1);
          depth(level + 1);
        }
        span.end();
      });
    };
    for (let i = 0; i < 20; i++) depth(0);
    const spans = tracing.exporter.getFinishedSpans();
    expect(spans.length).toBe(20 * 127);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    let children = 0;
    for (const span of spans) {
      const parent = span.parentSpanContext && byId.get(span.parentSpanContext.spanId);
      if (!parent) continue;
      children++;
      expect(startUs(span)).toBeGreaterThanOrEqual(startUs(parent));
      expect(hrTimeToMicroseconds(span.endTime)).toBeLessThanOrEqual(
        hrTimeToMicroseconds(parent.endTime),
      );
    }
    expect(children).toBe(20 * 126);
  });

  it('gives siblings started 100 µs apart distinct, ordered starts ~100 µs apart', () => {
    const parent = tracer().startSpan('parent');
    const ctx = trace.setSpan(context.active(), parent);
    const siblings: Span[] = [];
    for (let i = 0; i < 5; i++) {
      siblings.push(tracer().startSpan(`sibling${i}`, {}, ctx) as Span);
      spin(0.1);
    }
    for (const s of siblings) s.end();
    parent.end();
    const starts = siblings.map((s) => startUs(s));
    for (let i = 1; i < starts.length; i++) {
      const gap = starts[i]! - starts[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(100);
      expect(gap).toBeLessThan(5000);
    }
    expect(new Set(starts.map((us) => Math.floor(us))).size).toBe(5);
  });

  it('leaves a span without the SDK fields alone and warns once', () => {
    const warnings: unknown[][] = [];
    const logger: DiagLogger = {
      error: () => undefined,
      warn: (...args) => warnings.push(args),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    };
    diag.setLogger(logger);
    try {
      const processor = new SpanClockProcessor();
      const foreign = { startTime: [1, 0], end: () => undefined } as unknown as Span;
      processor.onStart(foreign, context.active());
      processor.onStart(foreign, context.active());
      expect(foreign.startTime).toEqual([1, 0]);
      expect(warnings).toHaveLength(1);
    } finally {
      diag.disable();
    }
  });
});
