/** A span as Jaeger's `GET /api/traces/{id}` returns it (the v1 JSON shape). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  /** Start, microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags?: { key: string; type?: string; value: unknown }[];
  processID: string;
  warnings?: string[] | null;
}

/** One trace: `data[0]` of Jaeger's `GET /api/traces/{id}`. */
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: { key: string; value: unknown }[] }>;
}

export type AttributeValue = string | number | boolean;

export interface JourneySpan {
  spanId: string;
  /** The parent inside this trace; null for a root or an orphan (its parent never arrived). */
  parentId: string | null;
  name: string;
  service: string;
  /** Microseconds from the trace's first start. */
  offsetUs: number;
  durationUs: number;
  depth: number;
  error: boolean;
  onCriticalPath: boolean;
  attributes: Record<string, AttributeValue>;
}

export const HopKey = {
  SENDER: 'sender',
  GATEWAY: 'gateway',
  LOGIC: 'logic',
  JOURNAL: 'journal',
  PROJECTION: 'projection',
  NATS: 'nats',
  TASK: 'task',
  PUSH: 'push',
  RECIPIENT: 'recipient',
} as const;
export type HopKey = (typeof HopKey)[keyof typeof HopKey];

/** One named step of a message's way from the sender to a recipient. */
export interface Hop {
  key: HopKey;
  /** "sender's browser", "gateway", …; a push or recipient hop names its gateway or user. */
  label: string;
  spanId: string;
  service: string;
  offsetUs: number;
  durationUs: number;
}

export interface Journey {
  traceId: string;
  /** The trace's first start, microseconds since the epoch. */
  startUs: number;
  /** From the first start to the last end. */
  durationUs: number;
  /** Depth-first, children ordered by start. */
  spans: JourneySpan[];
  hops: Hop[];
  /** Span ids from the root to the trace's last event (see `buildJourney`). */
  criticalPath: string[];
}
