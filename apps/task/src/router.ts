import type { Pool } from '@tracechat/postgres';
import type { Presence } from '@tracechat/presence';
import { withSpan } from '@tracechat/telemetry';

export interface Route {
  readonly gatewayId: string;
  readonly address: string;
  readonly userIds: readonly string[];
}

/** Recipients of a session's message, grouped by the gateway each is connected to. */
export class Router {
  constructor(
    private readonly pool: Pool,
    private readonly presence: Presence,
  ) {}

  resolve(sessionId: string): Promise<Route[]> {
    return withSpan(
      'task.route.resolve',
      { attributes: { 'chat.session.id': sessionId } },
      async (span) => {
        const { rows } = await this.pool.query<{ user_id: string }>(
          'SELECT user_id FROM members WHERE session_id = $1',
          [sessionId],
        );
        const members = rows.map((r) => r.user_id);
        const byGateway = await this.presence.gatewaysOf(members);
        const addresses = await this.presence.gatewayAddresses([...byGateway.keys()]);
        const routes: Route[] = [];
        let online = 0;
        for (const [gatewayId, userIds] of byGateway) {
          const address = addresses.get(gatewayId);
          if (!address) continue; // that gateway is gone; its users are offline
          routes.push({ gatewayId, address, userIds });
          online += userIds.length;
        }
        span.setAttributes({
          'chat.member.count': members.length,
          'chat.recipient.count': online,
          'chat.gateway.count': routes.length,
        });
        return routes;
      },
    );
  }
}
