import { randomUUID } from 'node:crypto';
import type {
  ChatMessage,
  GetMessageRequest__Output,
  GetMessageResponse,
  HistoryRequest__Output,
  HistoryResponse,
  InviteMemberRequest__Output,
  InviteMemberResponse,
  JoinSessionRequest__Output,
  JoinSessionResponse,
  LeaveSessionRequest__Output,
  LeaveSessionResponse,
  ListMembersRequest__Output,
  ListMembersResponse,
  SendMessageRequest__Output,
  SendMessageResponse,
} from '@tracechat/protos';
import { Attr, MetricName, SpanName } from '@tracechat/contracts';
import { incrementCounter, setAttributes, withSpan } from '@tracechat/telemetry';
import type { Logger } from '@tracechat/telemetry';
import { ChatError } from './errors';
import type { Membership } from './membership';
import type { JournalWriter } from './shards';
import { Quota } from './store';
import type { ChatStore, Quotas, Refusal, StoredMessage } from './store';
import {
  checkClientMsgId,
  checkMessageId,
  checkSessionId,
  checkText,
  checkUserId,
} from './validate';

export interface ChatServiceDeps {
  readonly store: ChatStore;
  readonly membership: Membership;
  readonly journal: JournalWriter;
  readonly maxTextBytes: number;
  readonly historyMaxLimit: number;
  /** Hears a history request asking for more than `historyMaxLimit` (it gets that many). */
  readonly onHistoryClamped?: (asked: number, max: number) => void;
  readonly quotas: Quotas;
  readonly log: Logger;
}

function toProto(message: StoredMessage): ChatMessage {
  return {
    messageId: message.messageId,
    sessionId: message.sessionId,
    seq: message.seq,
    senderId: message.senderId,
    text: message.text,
    sentAtMs: message.sentAtMs,
    traceId: message.traceId,
  };
}

/** The chat use cases, one span each, independent of gRPC. */
export class ChatService {
  /** Per session, the turn of the latest send: resolved once its append has been issued. */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(private readonly deps: ChatServiceDeps) {}

  /**
   * A place in the session's line of sends, taken when a send arrives: `ready` resolves once
   * every earlier send of the session has issued its append (or failed), `done` gives the turn
   * to the next. Sends are checked in parallel but reach the journal, which assigns the seqs, in
   * the order they arrived, so a client's pipelined sends keep their order.
   */
  private takeTurn(sessionId: string): { ready: Promise<void>; done: () => void } {
    const ready = this.turns.get(sessionId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.turns.set(sessionId, mine);
    return {
      ready,
      done: () => {
        release();
        if (this.turns.get(sessionId) === mine) this.turns.delete(sessionId);
      },
    };
  }

  /**
   * The error a refused join or invite answers with. A quota reached is counted and logged:
   * totals (sessions a user created, members of a session) are FORBIDDEN, since waiting does not
   * help; the hourly invites are RATE_LIMITED.
   */
  private refused(
    refusal: Refusal,
    sessionId: string,
    userId: string,
    forbidden: string,
  ): ChatError {
    const { quotas } = this.deps;
    if (refusal === 'forbidden') return new ChatError('FORBIDDEN', forbidden);
    const limit = {
      [Quota.SESSIONS_PER_USER]: quotas.maxSessionsPerUser,
      [Quota.MEMBERS_PER_SESSION]: quotas.maxMembersPerSession,
      [Quota.INVITES_PER_USER_PER_HOUR]: quotas.maxInvitesPerUserPerHour,
    }[refusal];
    incrementCounter(
      MetricName.LOGIC_QUOTA_REFUSALS,
      { [Attr.QUOTA]: refusal },
      1,
      'Joins and invites refused because a quota was reached',
    );
    this.deps.log.warn({ quota: refusal, limit, sessionId, userId }, 'quota reached');
    switch (refusal) {
      case Quota.SESSIONS_PER_USER:
        return new ChatError('FORBIDDEN', `you have created ${limit} sessions, the most allowed`);
      case Quota.MEMBERS_PER_SESSION:
        return new ChatError('FORBIDDEN', `session ${sessionId} is full (${limit} members)`);
      case Quota.INVITES_PER_USER_PER_HOUR:
        return new ChatError('RATE_LIMITED', `at most ${limit} invites an hour: try again later`);
    }
  }

  sendMessage(req: SendMessageRequest__Output): Promise<SendMessageResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    const clientMsgId = checkClientMsgId(req.clientMsgId);
    const size = checkText(req.text, this.deps.maxTextBytes);
    const turn = this.takeTurn(sessionId);
    return withSpan(
      SpanName.LOGIC_CHAT_SEND_MESSAGE,
      {
        attributes: {
          [Attr.SESSION_ID]: sessionId,
          [Attr.USER_ID]: userId,
          [Attr.MESSAGE_SIZE]: size,
        },
      },
      async (span) => {
        try {
          const member = await this.deps.membership.isMember(sessionId, userId);
          await turn.ready;
          if (!member) {
            throw new ChatError('FORBIDDEN', `not a member of session ${sessionId}`);
          }
          // The journal assigns the seq, answers a repeated client_msg_id, and its projector
          // stores and publishes the message once the record is durable.
          const appended = await this.deps.journal.appendMessage(
            {
              sessionId,
              messageId: randomUUID(),
              senderId: userId,
              text: req.text,
              sentAtMs: Date.now(),
              clientMsgId: clientMsgId ?? '',
              originGatewayId: req.originGatewayId,
              originConnectionId: req.originConnectionId,
            },
            turn.done,
          );
          span.setAttributes({
            [Attr.MESSAGE_ID]: appended.messageId,
            [Attr.MESSAGE_SEQ]: appended.seq,
            [Attr.DUPLICATE]: appended.duplicate,
          });
          return {
            messageId: appended.messageId,
            seq: appended.seq,
            sentAtMs: appended.sentAtMs,
            duplicate: appended.duplicate,
          };
        } finally {
          // after a failure too, but never before the earlier sends had their turn
          void turn.ready.then(turn.done);
        }
      },
    );
  }

  joinSession(req: JoinSessionRequest__Output): Promise<JoinSessionResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    return withSpan(
      SpanName.LOGIC_CHAT_JOIN_SESSION,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.USER_ID]: userId } },
      async () => {
        const joined = await this.deps.store.join(sessionId, userId, req.public);
        if (typeof joined === 'string') {
          throw this.refused(
            joined,
            sessionId,
            userId,
            `session ${sessionId} is private: ask a member to invite you`,
          );
        }
        await this.deps.membership.remember(sessionId);
        return { lastSeq: joined.lastSeq };
      },
    );
  }

  inviteMember(req: InviteMemberRequest__Output): Promise<InviteMemberResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    const inviteeId = checkUserId(req.inviteeId);
    return withSpan(
      SpanName.LOGIC_CHAT_INVITE_MEMBER,
      {
        attributes: {
          [Attr.SESSION_ID]: sessionId,
          [Attr.USER_ID]: userId,
          [Attr.INVITEE_ID]: inviteeId,
        },
      },
      async () => {
        const invited = await this.deps.store.invite(sessionId, userId, inviteeId);
        if (invited !== true) {
          throw this.refused(invited, sessionId, userId, `not a member of session ${sessionId}`);
        }
        await this.deps.membership.remember(sessionId);
        return {};
      },
    );
  }

  listMembers(req: ListMembersRequest__Output): Promise<ListMembersResponse> {
    const sessionId = checkSessionId(req.sessionId);
    return withSpan(
      SpanName.LOGIC_CHAT_LIST_MEMBERS,
      { attributes: { [Attr.SESSION_ID]: sessionId } },
      async (span) => {
        const { members, cached } = await this.deps.membership.members(sessionId);
        span.setAttributes({ [Attr.MEMBER_COUNT]: members.length, [Attr.CACHE_HIT]: cached });
        return { userIds: [...members] };
      },
    );
  }

  leaveSession(req: LeaveSessionRequest__Output): Promise<LeaveSessionResponse> {
    const sessionId = checkSessionId(req.sessionId);
    const userId = checkUserId(req.userId);
    return withSpan(
      SpanName.LOGIC_CHAT_LEAVE_SESSION,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.USER_ID]: userId } },
      async () => {
        const left = await this.deps.store.leave(sessionId, userId);
        await this.deps.membership.remember(sessionId);
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
    if (req.limit > this.deps.historyMaxLimit) {
      this.deps.onHistoryClamped?.(req.limit, this.deps.historyMaxLimit);
    }
    return withSpan(
      SpanName.LOGIC_CHAT_HISTORY,
      { attributes: { [Attr.SESSION_ID]: sessionId, [Attr.USER_ID]: userId } },
      async () => {
        if (!(await this.deps.membership.isMember(sessionId, userId))) {
          throw new ChatError('FORBIDDEN', `not a member of session ${sessionId}`);
        }
        const messages = await withSpan(
          SpanName.LOGIC_DB_HISTORY,
          {
            attributes: {
              [Attr.DB_SYSTEM_NAME]: 'postgresql',
              [Attr.DB_COLLECTION_NAME]: 'messages',
              [Attr.DB_OPERATION_NAME]: 'SELECT',
            },
          },
          async (s) => {
            const rows = await this.deps.store.history(sessionId, req.afterSeq, limit);
            s.setAttribute(Attr.DB_ROWS, rows.length);
            return rows;
          },
        );
        setAttributes({ [Attr.MESSAGE_COUNT]: messages.length });
        return { messages: messages.map(toProto) };
      },
    );
  }

  /**
   * One message's metadata, its text left out, for a member of its session. An unknown message
   * and a caller who is not a member get the same NOT_FOUND, so the answer tells nothing of
   * messages the caller may not see.
   */
  getMessage(req: GetMessageRequest__Output): Promise<GetMessageResponse> {
    const messageId = checkMessageId(req.messageId).toLowerCase();
    const userId = checkUserId(req.userId);
    return withSpan(
      SpanName.LOGIC_CHAT_GET_MESSAGE,
      { attributes: { [Attr.MESSAGE_ID]: messageId, [Attr.USER_ID]: userId } },
      async (span) => {
        const message = await this.deps.store.message(messageId);
        if (message) span.setAttribute(Attr.SESSION_ID, message.sessionId);
        if (!message || !(await this.deps.membership.isMember(message.sessionId, userId))) {
          throw new ChatError('NOT_FOUND', `no message ${messageId} that you may see`);
        }
        return { message: { ...toProto(message), text: '' } };
      },
    );
  }
}
