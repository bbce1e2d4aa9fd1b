import { journeyHops } from './hops';
import type { AttributeValue, JaegerSpan, JaegerTrace, Journey, JourneySpan } from './types';

/** Names of the spans a message's trace starts with, in order of preference for its root. */
const SEND_ROOTS = ['web.chat.send', 'gateway.ws.on_message', 'gateway.mqtt.publish'];

interface Node {
  readonly span: JaegerSpan;
  readonly parent: string | null;
  readonly children: Node[];
  readonly end: number;
}

function parentOf(span: JaegerSpan, present: ReadonlySet<string>): string | null {
  const refs = (span.references ?? []).filter(
    (r) => r.spanID !== span.spanID && present.has(r.spanID),
  );
  const ref =
    refs.find((r) => r.refType === 'CHILD_OF') ?? refs.find((r) => r.refType === 'FOLLOWS_FROM');
  return ref?.spanID ?? null;
}

const byStart = (a: Node, b: Node) =>
  a.span.startTime - b.span.startTime || a.span.spanID.localeCompare(b.span.spanID);

function attributesOf(span: JaegerSpan): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const tag of span.tags ?? []) {
    const v = tag.value;
    attributes[tag.key] =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? v
        : JSON.stringify(v);
  }
  return attributes;
}

function isError(attributes: Record<string, AttributeValue>): boolean {
  const flag = attributes['error'];
  return flag === true || flag === 'true' || attributes['otel.status_code'] === 'ERROR';
}

/** Where a message's journey ends, in order of preference: a recipient's screen or ack, a push. */
const ARRIVALS = [
  ['web.chat.render', 'gateway.ws.delivery_ack', 'gateway.mqtt.delivery_ack'],
  ['gateway.ws.push', 'gateway.mqtt.push'],
];

/**
 * The critical path: the chain of spans, parent to child, from the root to the journey's last
 * arrival: the recipient span (`web.chat.render` or a `delivery_ack`, WebSocket or MQTT) that ends
 * last, else the push (`gateway.ws.push`, `gateway.mqtt.push`) that ends last, else whichever span ends last. It is the chain of
 * causes of the last delivery, so it goes on past a parent's end where work outlives its parent
 * (the journal's projection, NATS and the pushes run after the send was acknowledged), and
 * housekeeping that ends later (a checkpoint written under the message's context) does not pull
 * it away. Ties go to the span started later (it waited for the other). The root is the sender's
 * `web.chat.send`, else `gateway.ws.on_message`, else the earliest root; only its subtree counts.
 */
function criticalPath(roots: readonly Node[], nodes: ReadonlyMap<string, Node>): string[] {
  const root =
    SEND_ROOTS.map((name) => roots.find((r) => r.span.operationName === name)).find(Boolean) ??
    roots[0];
  if (!root) return [];
  const subtree: Node[] = [];
  const seen = new Set<string>();
  for (const stack = [root]; stack.length > 0;) {
    const node = stack.pop()!;
    if (seen.has(node.span.spanID)) continue;
    seen.add(node.span.spanID);
    subtree.push(node);
    stack.push(...node.children);
  }
  const latest = (candidates: readonly Node[]) =>
    candidates.reduce<Node | undefined>(
      (best, n) =>
        !best || n.end > best.end || (n.end === best.end && n.span.startTime > best.span.startTime)
          ? n
          : best,
      undefined,
    );
  const target =
    ARRIVALS.map((names) =>
      latest(subtree.filter((n) => names.includes(n.span.operationName))),
    ).find(Boolean) ?? latest(subtree)!;
  const path: string[] = [];
  for (let node: Node | undefined = target; node && !path.includes(node.span.spanID);) {
    path.push(node.span.spanID);
    if (node === root) break;
    node = node.parent === null ? undefined : nodes.get(node.parent);
  }
  return path.reverse();
}

/**
 * A trace as a message's journey. The tree comes from `references`: the CHILD_OF parent, else
 * the FOLLOWS_FROM one; a span whose parent is not in the trace (not exported yet, or dropped)
 * becomes a root, so nothing is hidden. Spans are listed depth-first, roots and children ordered
 * by start. A span is an error when tagged `error=true` or `otel.status_code=ERROR`. An empty
 * trace gives an empty journey.
 */
export function buildJourney(trace: JaegerTrace): Journey {
  const present = new Set(trace.spans.map((s) => s.spanID));
  const nodes = new Map<string, Node>();
  for (const span of trace.spans) {
    if (nodes.has(span.spanID)) continue;
    const end = span.startTime + span.duration;
    nodes.set(span.spanID, { span, parent: parentOf(span, present), children: [], end });
  }
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.parent === null ? undefined : nodes.get(node.parent);
    (parent ? parent.children : roots).push(node);
  }
  roots.sort(byStart);
  for (const node of nodes.values()) node.children.sort(byStart);

  // depth-first; a reference cycle (malformed input) is cut where it is met
  const order: Node[] = [];
  const seen = new Set<string>();
  const visit = (node: Node, depth: number, out: (node: Node, depth: number) => void) => {
    if (seen.has(node.span.spanID)) return;
    seen.add(node.span.spanID);
    out(node, depth);
    for (const child of node.children) visit(child, depth + 1, out);
  };
  const depths = new Map<string, number>();
  for (const root of roots)
    visit(root, 0, (node, depth) => (order.push(node), depths.set(node.span.spanID, depth)));
  for (const node of nodes.values())
    if (!seen.has(node.span.spanID)) {
      // only spans on a reference cycle are left: show them as roots
      roots.push(node);
      visit(node, 0, (n, depth) => (order.push(n), depths.set(n.span.spanID, depth)));
    }

  const startUs =
    order.length === 0 ? 0 : order.reduce((m, n) => Math.min(m, n.span.startTime), Infinity);
  const endUs = order.reduce((m, n) => Math.max(m, n.end), startUs);
  const path = criticalPath(roots, nodes);
  const onPath = new Set(path);
  const spans: JourneySpan[] = order.map((node) => {
    const attributes = attributesOf(node.span);
    return {
      spanId: node.span.spanID,
      parentId: node.parent,
      name: node.span.operationName,
      service: trace.processes[node.span.processID]?.serviceName ?? 'unknown',
      offsetUs: node.span.startTime - startUs,
      durationUs: node.span.duration,
      depth: depths.get(node.span.spanID) ?? 0,
      error: isError(attributes),
      onCriticalPath: onPath.has(node.span.spanID),
      attributes,
    };
  });
  return {
    traceId: trace.traceID,
    startUs,
    durationUs: endUs - startUs,
    spans,
    hops: journeyHops(spans),
    criticalPath: path,
  };
}
