import { randomUUID } from 'node:crypto';
import type {
  ChatMessage,
  HistoryRequest__Output,
  HistoryResponse,
  JoinSessionRequest__Output,
  JoinSessionResponse,
  LeaveSessionRequest__Output,
  LeaveSessionResponse,
  SendMessageRequest__Output,
  SendMessageResponse,
} from '@tracechat/protos';
import { setAttributes, withSpan } from '@tracechat/telemetry';
import { ChatError } from './errors';
import type { Dedupe } from './dedupe';
import type { Membership } from './membership';
import type { MessagePublisher } from './publisher';
import type { JournalWriter } from './shards';
import { SeqConflictError } from './store';
import type { ChatStore, StoredMessage } from './store';
import { checkClientMsgId, checkSessionId, checkText, checkUserId } from './validate';

export interface ChatServiceDeps {
  readonly store: ChatStore;
  readonly membership: Membership;
  readonly dedupe: Dedupe;
  readonly publisher: MessagePublisher;
  readonly journal: JournalWriter;
  readonly maxTextBytes: number;
  readonly historyMaxLimit: number;
}

function toProto(message: StoredMessage): ChatMessage {
  return {
    messageId: message.messageId,
    sessionId: message.sessionId,
    seq: message.seq,
    senderId: message.senderId,
    text: message.text,
    sentAtMs: message.sentAtMs,
  };
}

/** The chat use cases, one span each, independent of gRPC. */
export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  sendMessage(req: SendMessageRequest__Output): Promise<SendMessageResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    const clientMsgId = checkClientMsgId(req.clientMsgId);
    const size = checkText(req.text, this.deps.maxTextBytes);
    return withSpan(
      'logic.chat.send_message',
      {
        attributes: {
          'chat.session.id': sessionId,
          'chat.user.id': userId,
          'chat.message.size': size,
        },
      },
      async (span) => {
        const { store, membership, dedupe, publisher } = this.deps;
        if (!(await membership.isMember(sessionId, userId))) {
          throw new ChatError('FORBIDDEN', `not a member of session ${sessionId}`);
        }
        const seen = await withSpan(
          'logic.dedupe.check',
          { attributes: { 'chat.user.id': userId } },
          async (s) => {
            const earlier = await dedupe.check(userId, clientMsgId);
            s.setAttribute('chat.duplicate', earlier !== undefined);
            return earlier;
          },
        );
        if (seen) {
          span.setAttributes({
            'chat.message.id': seen.messageId,
            'chat.message.seq': seen.seq,
            'chat.duplicate': true,
          });
          return { ...seen, duplicate: true };
        }
        const messageId = randomUUID();
        const sentAtMs = Date.now();
        const { seq, shardId } = await this.deps.journal.append(
          sessionId,
          Buffer.from(
            JSON.stringify({ messageId, senderId: userId, clientMsgId, text: req.text, sentAtMs }),
          ),
        );
        const saved = await withSpan(
          'logic.db.save_message',
          {
            attributes: {
              'db.system.name': 'postgresql',
              'db.collection.name': 'messages',
              'db.operation.name': 'INSERT',
            },
          },
          async (s) => {
            const result = await store
              .save({
                messageId,
                sessionId,
                seq,
                shardId,
                senderId: userId,
                clientMsgId,
                text: req.text,
                sentAtMs,
              })
              .catch((err: unknown) => {
                if (err instanceof SeqConflictError) {
                  throw new ChatError('UNAVAILABLE', 'message storage is inconsistent; try later', {
                    cause: err,
                  });
                }
                throw err;
              });
            s.setAttribute('db.rows', result.duplicate ? 0 : 1);
            return result;
          },
        );
        const { message } = saved;
        span.setAttributes({
          'chat.message.id': message.messageId,
          'chat.message.seq': message.seq,
          'chat.duplicate': saved.duplicate,
        });
        await publisher.publish({
          ...message,
          originGatewayId: req.originGatewayId,
          originConnectionId: req.originConnectionId,
        });
        const result = {
          messageId: message.messageId,
          seq: message.seq,
          sentAtMs: message.sentAtMs,
        };
        await dedupe.remember(userId, clientMsgId, result);
        return { ...result, duplicate: saved.duplicate };
      },
    );
  }

  joinSession(req: JoinSessionRequest__Output): Promise<JoinSessionResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    return withSpan(
      'logic.chat.join_session',
      { attributes: { 'chat.session.id': sessionId, 'chat.user.id': userId } },
      async () => {
        const lastSeq = await this.deps.store.join(sessionId, userId);
        await this.deps.membership.remember(sessionId, userId, true);
        return { lastSeq };
      },
    );
  }

  leaveSession(req: LeaveSessionRequest__Output): Promise<LeaveSessionResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    return withSpan(
      'logic.chat.leave_session',
      { attributes: { 'chat.session.id': sessionId, 'chat.user.id': userId } },
      async () => {
        const left = await this.deps.store.leave(sessionId, userId);
        await this.deps.membership.remember(sessionId, userId, false);
        if (!left) throw new ChatError('NOT_FOUND', `not a member of session ${sessionId}`);
        return {};
      },
    );
  }

  history(req: HistoryRequest__Output): Promise<HistoryResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    if (req.afterSeq < 0) throw new ChatError('INVALID_ARGUMENT', 'after_seq must be ≥ 0');
    const limit = Math.min(req.limit > 0 ? req.limit : 50, this.deps.historyMaxLimit);
    return withSpan(
      'logic.chat.history',
      { attributes: { 'chat.session.id': sessionId, 'chat.user.id': userId } },
      async () => {
        if (!(await this.deps.membership.isMember(sessionId, userId))) {
          throw new ChatError('FORBIDDEN', `not a member of session ${sessionId}`);
        }
        const messages = await withSpan(
          'logic.db.history',
          {
            attributes: {
              'db.system.name': 'postgresql',
              'db.collection.name': 'messages',
              'db.operation.name': 'SELECT',
            },
          },
          async (s) => {
            const rows = await this.deps.store.history(sessionId, req.afterSeq, limit);
            s.setAttribute('db.rows', rows.length);
            return rows;
          },
        );
        setAttributes({ 'chat.message.count': messages.length });
        return { messages: messages.map(toProto) };
      },
    );
  }
}
