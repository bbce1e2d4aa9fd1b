import { tracechatV1 } from '../src';

describe('service definitions', () => {
  it('load the chat and push services with their methods', () => {
    const v1 = tracechatV1();
    expect(Object.keys(v1.ChatService.service)).toEqual([
      'SendMessage',
      'SendMessages',
      'JoinSession',
      'InviteMember',
      'LeaveSession',
      'History',
      'ListMembers',
      'GetMessage',
    ]);
    expect(Object.keys(v1.PushService.service)).toEqual(['Deliver', 'DeliverBatch']);
    expect(Object.keys(v1.JournalService.service)).toContain('AppendMessages');
  });
});
