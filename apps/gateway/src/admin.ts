import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WhitelistEntryError, checkWhitelistEntry } from '@tracechat/presence';
import type { WhitelistStore } from '@tracechat/presence';

export interface AdminDeps {
  readonly token: string | undefined;
  readonly whitelist: WhitelistStore;
  /** Called after a change so this gateway's sampler has it at once. */
  readonly changed: () => Promise<void>;
}

function authorized(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function badEntry(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof WhitelistEntryError) return reply.code(400).send({ error: err.message });
  throw err;
}

/**
 * The admin API: the runtime sampling whitelist (list, add, remove), behind a bearer token.
 *   GET    /admin/sampling/whitelist              → {users, sessions}
 *   POST   /admin/sampling/whitelist  {kind, id}  → 201 added, 200 already there
 *   PUT    /admin/sampling/whitelist/:kind/:id    → the same
 *   DELETE /admin/sampling/whitelist/:kind/:id    → 204 removed, 404 not there
 * kind is `users` or `sessions`.
 */
export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req, reply) => {
        if (!authorized(req, deps.token)) {
          reply.header('www-authenticate', 'Bearer');
          return reply.code(401).send({
            error: deps.token
              ? 'a valid admin token is required'
              : 'the admin API is off: set ADMIN_TOKEN',
          });
        }
        return undefined;
      });

      admin.get('/sampling/whitelist', async () => deps.whitelist.list());

      const add = async (kind: unknown, id: unknown, reply: FastifyReply) => {
        let entry;
        try {
          entry = checkWhitelistEntry(kind, id);
        } catch (err) {
          return badEntry(reply, err);
        }
        const added = await deps.whitelist.add(entry.kind, entry.id);
        await deps.changed();
        return reply.code(added ? 201 : 200).send({ ...entry, added });
      };

      admin.post('/sampling/whitelist', async (req, reply) => {
        const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<
          string,
          unknown
        >;
        return add(body.kind, body.id, reply);
      });

      admin.put<{ Params: { kind: string; id: string } }>(
        '/sampling/whitelist/:kind/:id',
        async (req, reply) => add(req.params.kind, req.params.id, reply),
      );

      admin.delete<{ Params: { kind: string; id: string } }>(
        '/sampling/whitelist/:kind/:id',
        async (req, reply) => {
          let entry;
          try {
            entry = checkWhitelistEntry(req.params.kind, req.params.id);
          } catch (err) {
            return badEntry(reply, err);
          }
          const removed = await deps.whitelist.remove(entry.kind, entry.id);
          await deps.changed();
          return removed
            ? reply.code(204).send()
            : reply.code(404).send({ error: 'no such entry' });
        },
      );
    },
    { prefix: '/admin' },
  );
}
