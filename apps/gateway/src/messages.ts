import type { ChatMessageView } from '@tracechat/contracts';
import type { ChatMessage__Output } from '@tracechat/protos';

export function fromProto(m: ChatMessage__Output): ChatMessageView {
  return {
    session: m.sessionId,
    messageId: m.messageId,
    seq: m.seq,
    from: m.senderId,
    text: m.text,
    sentAt: new Date(m.sentAtMs).toISOString(),
    traceId: m.traceId,
  };
}
