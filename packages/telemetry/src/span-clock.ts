import { context, diag } from '@opentelemetry/api';
import type { Context, HrTime, TimeInput } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Where a clock reads monotonic and wall time (tests pass their own). */
export interface ClockSources {
  /** Monotonic milliseconds with a fraction (performance.now()). */
  monotonic(): number;
  /** Wall-clock epoch milliseconds, whole (Date.now()). */
  wall(): number;
}

export interface SpanClockOptions {
  /** Monotonic milliseconds between two comparisons with the wall clock. */
  recheckMs?: number;
  /** How fast an error is corrected, as a share of elapsed time (0.05: 50 µs per ms). */
  slewRate?: number;
  /** A wall clock ahead by more than this is followed at once (forward only). */
  stepForwardMs?: number;
}

const DEFAULTS: Required<SpanClockOptions> = {
  recheckMs: 2000,
  slewRate: 0.05,
  stepForwardMs: 1000,
};

/** Date.now() is whole milliseconds and read a little after the monotonic clock. */
const READ_SLACK_MS = 0.05;

/**
 * Epoch milliseconds with a fraction, counted by the monotonic clock from an anchor on the wall
 * clock. Every `recheckMs` it compares itself with the wall clock; when it is outside the wall
 * clock's millisecond it corrects towards it by running up to `slewRate` faster or slower, so it
 * never goes backwards. A wall clock that jumps ahead by more than `stepForwardMs` is followed
 * at once; one that jumps back is caught up with by slewing only.
 */
export class SpanClock {
  private readonly options: Required<SpanClockOptions>;
  /** epoch = monotonic + offset, where offset moves towards target at slewRate. */
  private offset = 0;
  private target = 0;
  private since = 0;
  private lastCheck = 0;
  private last = -Infinity;

  constructor(
    private readonly sources: ClockSources = {
      monotonic: () => performance.now(),
      wall: () => Date.now(),
    },
    options: SpanClockOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.anchor();
  }

  /**
   * Anchors on the wall clock's next millisecond tick (waiting at most ~2 ms once), so the offset
   * is right to a few microseconds rather than to Date.now()'s whole millisecond.
   */
  private anchor(): void {
    const { monotonic, wall } = this.sources;
    const w0 = wall();
    const p0 = monotonic();
    let offset = w0 + 0.5 - p0;
    for (let i = 0; i < 1_000_000; i++) {
      const w = wall();
      const p = monotonic();
      if (w !== w0) {
        offset = w - p;
        break;
      }
      if (p - p0 > 2) break;
    }
    this.offset = this.target = offset;
    this.since = this.lastCheck = monotonic();
  }

  /** The offset in force at monotonic time `p` (moving towards target, never past it). */
  private offsetAt(p: number): number {
    const gap = this.target - this.offset;
    if (gap === 0) return this.offset;
    const moved = Math.max(0, p - this.since) * this.options.slewRate;
    return moved >= Math.abs(gap) ? this.target : this.offset + Math.sign(gap) * moved;
  }

  /** Compares with the wall clock now (not at a past reading, which the wall clock has passed). */
  private recheck(): void {
    const p = this.sources.monotonic();
    const wall = this.sources.wall();
    this.lastCheck = p;
    const current = this.offsetAt(p);
    const clock = p + current;
    // the true wall time is in [wall, wall + 1): in sync while the clock is in there
    if (clock >= wall - READ_SLACK_MS && clock <= wall + 1 + READ_SLACK_MS) {
      this.offset = this.target = current;
      this.since = p;
      return;
    }
    const error = wall + 0.5 - clock;
    this.offset = current;
    this.since = p;
    if (error > this.options.stepForwardMs) this.offset = this.target = current + error;
    else this.target = current + error;
  }

  /**
   * Epoch milliseconds (with a fraction) at monotonic time `p`, a performance.now() reading
   * from the past or present. Readings at later `p` are never earlier.
   */
  at(p: number): number {
    if (p - this.lastCheck >= this.options.recheckMs) this.recheck();
    return p + this.offsetAt(p);
  }

  /** Epoch milliseconds now, with a fraction; never less than an earlier reading. */
  now(): number {
    const t = this.at(this.sources.monotonic());
    if (t < this.last) return this.last;
    this.last = t;
    return t;
  }
}

// One clock per process, shared by every copy of this module.
const KEY = Symbol.for('tracechat.spanClock');
type Holder = { [KEY]?: SpanClock };
const holder = globalThis as Holder;

/** The process's span clock. */
export function processSpanClock(): SpanClock {
  return (holder[KEY] ??= new SpanClock());
}

/**
 * Now, as epoch milliseconds with a sub-millisecond fraction (about 0.25 µs resolution), on the
 * clock every span of this process is timed with: monotonic, within ~1 ms of the wall clock.
 * Pass it as `startTime`/`end()` when a span's times are taken apart from the span.
 */
export function spanClockNow(): number {
  return processSpanClock().now();
}

/** The SDK span fields this processor rewrites (sdk-trace-base 2.x SpanImpl, private). */
interface SpanTimes {
  startTime: HrTime;
  _startTimeProvided: boolean;
  _performanceStartTime: number;
  _performanceOffset: number;
  end(endTime?: TimeInput): void;
}

function hasSpanTimes(span: object): span is SpanTimes {
  const s = span as Partial<SpanTimes>;
  return (
    Array.isArray(s.startTime) &&
    typeof s._startTimeProvided === 'boolean' &&
    typeof s._performanceStartTime === 'number' &&
    typeof s._performanceOffset === 'number'
  );
}

/**
 * Times every span on the span clock. The SDK (sdk-trace-base 2.x, opentelemetry-js #5019) starts
 * a span given no start time at Date.now(), a whole millisecond, and ends it at that start plus
 * performance.now()'s elapsed time. This processor, first in the list, sets such a span's start
 * to the span clock at the SDK's own performance.now() reading, so its end, events and duration
 * stay consistent with it; performance.now() timestamps passed to the span map onto the same
 * clock. A span given a start time keeps it; its end() without a time reads the span clock
 * instead of Date.now(). The fields are private to the SDK: they were read in SpanImpl of
 * @opentelemetry/sdk-trace 2.11.0, which sdk-trace-base 2.11.0 (pinned exactly in package.json)
 * pins in turn; bump them together and re-read Span.js. A span without the fields (another SDK
 * version) is left alone, with one warning. Drop this once the SDK starts spans precisely
 * itself (opentelemetry-js #5804).
 */
export class SpanClockProcessor implements SpanProcessor {
  private warned = false;

  constructor(private readonly clock: SpanClock = processSpanClock()) {}

  onStart(span: Span, _parentContext: Context = context.active()): void {
    if (!hasSpanTimes(span)) {
      if (!this.warned) {
        this.warned = true;
        diag.warn('span clock: this SDK version hides span start fields; spans keep its times');
      }
      return;
    }
    const p = span._performanceStartTime;
    const epoch = this.clock.at(p);
    // SpanImpl maps a performance.now() input t to hrTime(t + _performanceOffset), which adds
    // performance.timeOrigin
    span._performanceOffset = epoch - p - performance.timeOrigin;
    if (!span._startTimeProvided) {
      span.startTime = millisToHrTime(epoch);
      return;
    }
    const clock = this.clock;
    const end = span.end.bind(span);
    span.end = (endTime?: TimeInput) => end(endTime ?? clock.now());
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
