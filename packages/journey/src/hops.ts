// The named hops of a message's journey (sender's browser → gateway → logic → journal →
// projection → NATS → task → gateway push → recipient), found by span name. Span names are the
// catalog's (packages/contracts' SpanName); they are written here as text because this package
// must not depend on anything the browser cannot bundle.
import type { Hop, HopKey, JourneySpan } from './types';

const Label: Record<HopKey, string> = {
  sender: "sender's browser",
  gateway: 'gateway',
  logic: 'logic',
  journal: 'journal',
  projection: 'projection',
  nats: 'NATS',
  task: 'task',
  push: 'gateway push',
  recipient: "recipient's screen",
};

const hopOf = (key: HopKey, span: JourneySpan, label = Label[key]): Hop => ({
  key,
  label,
  spanId: span.spanId,
  service: span.service,
  offsetUs: span.offsetUs,
  durationUs: span.durationUs,
});

const text = (span: JourneySpan | undefined, key: string): string | undefined => {
  const v = span?.attributes[key];
  return v === undefined ? undefined : String(v);
};

/**
 * The hops present in a journey, in the order a message travels; a hop whose span is missing is
 * left out. Each hop lasts as long as its span, except NATS: from the publish's start to the
 * consume's start (the time in the broker). The journal hop is the journal node's own span
 * (`journal.append_message`, else `journal.write`, else logic's client span). Every push to a
 * connection gets a push hop (from the gateway's `gateway.push.deliver` start to the
 * `gateway.ws.push` end) followed by its recipient hop (the recipient page's `web.chat.render`,
 * else the `gateway.ws.delivery_ack` of its `received`); with several pushes their labels name the
 * gateway and the user.
 */
export function journeyHops(spans: readonly JourneySpan[]): Hop[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const find = (test: (s: JourneySpan) => boolean) => spans.find(test);
  const named = (name: string) => find((s) => s.name === name);
  const hops: Hop[] = [];
  const add = (key: HopKey, span: JourneySpan | undefined) => span && hops.push(hopOf(key, span));

  add(
    'sender',
    find((s) => s.name === 'web.chat.send' && s.service === 'web'),
  );
  add('gateway', named('gateway.ws.on_message') ?? named('gateway.mqtt.publish'));
  add('logic', named('logic.chat.send_message'));
  add(
    'journal',
    named('journal.append_message') ??
      named('journal.write') ??
      find((s) => s.service === 'journal' && s.name.endsWith('.journal.append')) ??
      find((s) => s.name.endsWith('.journal.append')),
  );
  add(
    'projection',
    find((s) => s.name.endsWith('.db.save_message')),
  );
  const publish = find((s) => s.name.endsWith('.mq.publish'));
  const consume =
    find((s) => s.name === 'task.mq.consume' && s.parentId === publish?.spanId) ??
    named('task.mq.consume');
  if (publish) {
    const gap = consume ? consume.offsetUs - publish.offsetUs : publish.durationUs;
    hops.push({ ...hopOf('nats', publish), durationUs: gap });
  }
  add('task', consume);

  const ancestor = (span: JourneySpan, name: string) => {
    for (
      let p = byId.get(span.parentId ?? ''), n = 0;
      p && n < 64;
      p = byId.get(p.parentId ?? ''), n++
    )
      if (p.name === name) return p;
    return undefined;
  };
  const under = (span: JourneySpan, ancestorId: string) => {
    for (
      let p = byId.get(span.parentId ?? ''), n = 0;
      p && n < 64;
      p = byId.get(p.parentId ?? ''), n++
    )
      if (p.spanId === ancestorId) return true;
    return false;
  };
  const pushes = spans.filter(
    (s) => s.name === 'gateway.ws.push' || s.name === 'gateway.mqtt.push',
  );
  const deliveries = spans.filter((s) => s.name === 'gateway.push.deliver');
  const legs = (pushes.length > 0 ? pushes : deliveries)
    .map((push) => {
      const deliver =
        push.name === 'gateway.push.deliver' ? push : ancestor(push, 'gateway.push.deliver');
      const screen =
        spans.find(
          (s) => s.name === 'web.chat.render' && s.service === 'web' && under(s, push.spanId),
        ) ??
        spans.find(
          (s) =>
            (s.name === 'gateway.ws.delivery_ack' || s.name === 'gateway.mqtt.delivery_ack') &&
            under(s, push.spanId),
        );
      return { push, deliver, screen };
    })
    .sort((a, b) => (a.deliver ?? a.push).offsetUs - (b.deliver ?? b.push).offsetUs);
  const several = legs.length > 1;
  for (const { push, deliver, screen } of legs) {
    const gatewayId = text(deliver, 'chat.gateway.id') ?? text(push, 'chat.gateway.id');
    const user =
      text(push, 'chat.user.id') ?? text(screen, 'chat.user.id') ?? text(screen, 'enduser.id');
    const start = deliver ?? push;
    const pushLabel = several
      ? `${Label.push} (${[gatewayId ?? push.service, user].filter(Boolean).join(' → ')})`
      : Label.push;
    hops.push({
      ...hopOf('push', push, pushLabel),
      offsetUs: start.offsetUs,
      durationUs: push.offsetUs + push.durationUs - start.offsetUs,
    });
    if (screen) {
      const base = screen.name === 'web.chat.render' ? Label.recipient : "recipient's client";
      hops.push(hopOf('recipient', screen, several && user ? `${base} (${user})` : base));
    }
  }
  return hops;
}
