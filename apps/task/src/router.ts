import type { MemberCache, Presence } from '@tracechat/presence';
import { withSpan } from '@tracechat/telemetry';
import { Attr, SpanName } from '@tracechat/contracts';

export interface Route {
  readonly gatewayId: string;
  readonly address: string;
  readonly userIds: readonly string[];
}

/** Who is in a session: logic owns the members table and answers `ListMembers`. */
export interface MemberSource {
  listMembers(req: { sessionId: string }): Promise<{ userIds: string[] }>;
}

/**
 * Recipients of a session's message, grouped by the gateway each is connected to. Members come
 * from `cache` when given (kept in step with logic's announcements), else from logic each time;
 * presence is always read afresh.
 */
export class Router {
  constructor(
    private readonly members: MemberSource,
    private readonly presence: Presence,
    private readonly cache?: MemberCache,
  ) {}

  private async membersOf(
    sessionId: string,
  ): Promise<{ members: readonly string[]; cached: boolean }> {
    const load = async (id: string) => (await this.members.listMembers({ sessionId: id })).userIds;
    if (this.cache) return this.cache.get(sessionId, load);
    return { members: await load(sessionId), cached: false };
  }

  resolve(sessionId: string): Promise<Route[]> {
    return withSpan(
      SpanName.TASK_ROUTE_RESOLVE,
      { attributes: { [Attr.SESSION_ID]: sessionId } },
      async (span) => {
        const { members, cached } = await this.membersOf(sessionId);
        span.setAttribute(Attr.CACHE_HIT, cached);
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
          [Attr.MEMBER_COUNT]: members.length,
          [Attr.RECIPIENT_COUNT]: online,
          [Attr.GATEWAY_COUNT]: routes.length,
        });
        return routes;
      },
    );
  }
}
