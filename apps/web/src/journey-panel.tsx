import { buildJourney, formatDuration, serviceColor } from '@tracechat/journey';
import type { JaegerTrace, Journey, JourneySpan } from '@tracechat/journey';
import { useEffect, useState } from 'preact/hooks';
import { messageTrace } from './api';
import type { TraceAnswer } from './api';
import type { ChatMessage } from './protocol';

const POLL_MS = 1000;
const GIVE_UP_MS = 35_000;
/** Spans of a message younger than this may still be on their way: the journey refreshes. */
const SETTLE_MS = 20_000;
const REFRESH_MS = 2000;

type Load =
  | { readonly kind: 'loading' }
  | { readonly kind: 'pending'; readonly since: number }
  | { readonly kind: 'not_sampled'; readonly answer: TraceAnswer }
  | { readonly kind: 'found'; readonly answer: TraceAnswer; readonly journey: Journey }
  | { readonly kind: 'error'; readonly text: string };

/**
 * Asks the gateway for the message's trace, polling while its spans are still being collected;
 * a young trace is fetched again for a while, as services and browsers export in batches.
 */
function useTrace(token: string, message: ChatMessage): Load {
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = Date.now();
    const sentAt = Date.parse(message.sent_at) || started;
    const again = (ms: number) => (timer = setTimeout(() => void poll(), ms));
    const poll = async () => {
      try {
        const answer = await messageTrace(token, message.message_id);
        if (stopped) return;
        if (answer.status === 'found' && answer.trace) {
          setLoad({ kind: 'found', answer, journey: buildJourney(answer.trace as JaegerTrace) });
          if (Date.now() - sentAt < SETTLE_MS) again(REFRESH_MS);
        } else if (answer.status === 'not_sampled') {
          setLoad({ kind: 'not_sampled', answer });
        } else if (Date.now() - started > GIVE_UP_MS) {
          setLoad({
            kind: 'error',
            text: 'no spans arrived within 30 s; is the collector running?',
          });
        } else {
          setLoad({ kind: 'pending', since: started });
          again(POLL_MS);
        }
      } catch (err) {
        if (!stopped) setLoad({ kind: 'error', text: (err as Error).message });
      }
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token, message.message_id, message.sent_at]);
  return load;
}

export function JourneyPanel({
  message,
  token,
  onResend,
  onClose,
}: {
  message: ChatMessage;
  token: string;
  onResend(text: string): void;
  onClose(): void;
}) {
  const load = useTrace(token, message);
  const [resent, setResent] = useState(false);
  return (
    <aside class="journey" aria-label="Journey">
      <header class="journey-header">
        <h2>
          Journey of #{message.seq} <span class="muted">from {message.from}</span>
        </h2>
        <button type="button" class="link" aria-label="Close journey" onClick={onClose}>
          ×
        </button>
      </header>
      <p class="muted small">
        trace <code>{message.trace_id}</code>
      </p>
      {load.kind === 'loading' && <p role="status">loading…</p>}
      {load.kind === 'pending' && (
        <p role="status">
          collecting spans…{' '}
          <span class="muted">(services export them in batches; this refreshes every second)</span>
        </p>
      )}
      {load.kind === 'error' && (
        <p role="alert" class="error">
          {load.text}
        </p>
      )}
      {load.kind === 'not_sampled' && (
        <div role="status" class="not-sampled">
          <p>
            <strong>This trace was not kept.</strong> Tail sampling keeps every trace with an error,
            every slow one and every debug one, but only a share of the rest, and it dropped this
            one.
          </p>
          {resent ? (
            <p>Sent again with debug: click the new message to see its journey.</p>
          ) : (
            <button
              type="button"
              onClick={() => {
                onResend(message.text);
                setResent(true);
              }}
            >
              Resend with debug
            </button>
          )}
        </div>
      )}
      {load.kind === 'found' && (
        <JourneyView journey={load.journey} jaegerUrl={load.answer.jaeger_url} />
      )}
    </aside>
  );
}

function JourneyView({ journey, jaegerUrl }: { journey: Journey; jaegerUrl: string | null }) {
  const services = [...new Set(journey.spans.map((s) => s.service))];
  const screens = journey.hops.filter((h) => h.key === 'recipient');
  const screenUs = screens.length
    ? Math.max(...screens.map((h) => h.offsetUs + h.durationUs))
    : null;
  return (
    <div class="journey-body">
      <p class="summary">
        {screenUs !== null && (
          <>
            <strong>{formatDuration(screenUs)}</strong> from click to the recipient’s screen ·{' '}
          </>
        )}
        {formatDuration(journey.durationUs)} to the last span · {journey.spans.length} spans ·{' '}
        {services.length} services
        {jaegerUrl && (
          <>
            {' · '}
            <a href={jaegerUrl} target="_blank" rel="noopener noreferrer">
              Open in Jaeger
            </a>
          </>
        )}
      </p>
      <ol class="hops" aria-label="Hops">
        {journey.hops.map((hop) => (
          <li
            key={hop.key + hop.spanId}
            data-hop={hop.key}
            title={`${hop.service}: starts at +${formatDuration(hop.offsetUs)}`}
          >
            <span class="hop-dot" style={{ background: serviceColor(hop.service) }} />
            <span class="hop-label">{hop.label}</span>
            <span class="hop-time">+{formatDuration(hop.offsetUs)}</span>
          </li>
        ))}
      </ol>
      <ul class="legend" aria-label="Services">
        {services.map((s) => (
          <li key={s}>
            <span class="hop-dot" style={{ background: serviceColor(s) }} />
            {s}
          </li>
        ))}
        <li>
          <span class="critical-swatch" /> critical path
        </li>
      </ul>
      <Waterfall journey={journey} />
    </div>
  );
}

function spanTitle(span: JourneySpan): string {
  const lines = [
    `${span.name} (${span.service})`,
    `start +${formatDuration(span.offsetUs)}, duration ${formatDuration(span.durationUs)}`,
    ...(span.onCriticalPath ? ['on the critical path'] : []),
    ...Object.entries(span.attributes).map(([k, v]) => `${k} = ${String(v)}`),
  ];
  return lines.join('\n');
}

function Waterfall({ journey }: { journey: Journey }) {
  const total = Math.max(journey.durationUs, 1);
  return (
    <table class="waterfall" aria-label="Waterfall">
      <thead>
        <tr>
          <th scope="col">span</th>
          <th scope="col">service</th>
          <th scope="col" class="num">
            start
          </th>
          <th scope="col" class="num">
            duration
          </th>
          <th scope="col" class="bar-col">
            0 — {formatDuration(journey.durationUs)}
          </th>
        </tr>
      </thead>
      <tbody>
        {journey.spans.map((span) => (
          <tr
            key={span.spanId}
            class={`${span.onCriticalPath ? 'critical' : ''}${span.error ? ' failed' : ''}`}
            data-service={span.service}
            data-span={span.name}
            title={spanTitle(span)}
          >
            <th
              scope="row"
              class="span-name"
              style={{ paddingLeft: `${0.4 + span.depth * 0.9}em` }}
            >
              {span.name}
            </th>
            <td class="service">{span.service}</td>
            <td class="num">+{formatDuration(span.offsetUs)}</td>
            <td class="num">{formatDuration(span.durationUs)}</td>
            <td class="bar-col">
              <span
                class="bar"
                style={{
                  left: `${(span.offsetUs / total) * 100}%`,
                  width: `max(2px, ${(span.durationUs / total) * 100}%)`,
                  background: serviceColor(span.service),
                }}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
