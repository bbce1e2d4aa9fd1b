export { serviceColor } from './colors';
export { formatDuration } from './format';
export { journeyHops } from './hops';
export { buildJourney } from './journey';
export { HopKey } from './types';
export type { AttributeValue, Hop, JaegerSpan, JaegerTrace, Journey, JourneySpan } from './types';
export { renderHops, renderWaterfall } from './waterfall';
export type { RenderOptions } from './waterfall';
