import type { ChatMessage__Output } from '@tracechat/protos';
import type { PushedMessage } from './frames';

export function fromProto(m: ChatMessage__Output): PushedMessage {
  return {
    session: m.sessionId,
    messageId: m.messageId,
    seq: m.seq,
    from: m.senderId,
    text: m.text,
    sentAt: new Date(m.sentAtMs).toISOString(),
  };
}
