import { metrics } from '@opentelemetry/api';
import type { Attributes, Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';

function meter(): Meter {
  return metrics.getMeter('tracechat');
}

const counters = new Map<string, Counter>();
const histograms = new Map<string, Histogram>();
const gauges = new Map<
  string,
  { gauge: ObservableGauge; values: Map<string, [number, Attributes]> }
>();

/**
 * Adds `value` (default 1) to a monotonic counter, created on first use. As with histograms, the
 * SDK hashes `attributes` on every call (~0.6 µs for one key): keep them few and stable.
 */
export function incrementCounter(
  name: string,
  attributes?: Attributes,
  value = 1,
  description?: string,
): void {
  let counter = counters.get(name);
  if (!counter) {
    counter = meter().createCounter(name, { description });
    counters.set(name, counter);
  }
  counter.add(value, attributes);
}

interface HistogramOptions {
  unit?: string;
  description?: string;
  boundaries?: number[];
}

const NO_OPTIONS: HistogramOptions = {};

/**
 * Records one value in a histogram, created on first use; `unit` is e.g. "ms" or "By".
 * Instruments are looked up by name, so a call costs one map lookup and the SDK's record, whose
 * main cost is hashing `attributes`: keep them few, with a fixed set of keys.
 */
export function recordHistogram(
  name: string,
  value: number,
  attributes?: Attributes,
  options: HistogramOptions = NO_OPTIONS,
): void {
  let histogram = histograms.get(name);
  if (!histogram) {
    histogram = meter().createHistogram(name, {
      unit: options.unit,
      description: options.description,
      advice: options.boundaries ? { explicitBucketBoundaries: options.boundaries } : undefined,
    });
    histograms.set(name, histogram);
  }
  histogram.record(value, attributes);
}

/** Sets the current value of a gauge for one attribute set; it is read at each export. */
export function setGauge(
  name: string,
  value: number,
  attributes: Attributes = {},
  description?: string,
): void {
  let entry = gauges.get(name);
  if (!entry) {
    const values = new Map<string, [number, Attributes]>();
    const gauge = meter().createObservableGauge(name, { description });
    gauge.addCallback((result) => {
      for (const [v, attrs] of values.values()) result.observe(v, attrs);
    });
    entry = { gauge, values };
    gauges.set(name, entry);
  }
  entry.values.set(JSON.stringify(attributes), [value, attributes]);
}
