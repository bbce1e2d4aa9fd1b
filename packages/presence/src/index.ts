export { Presence } from './presence';
export {
  WHITELIST_KINDS,
  WhitelistEntryError,
  WhitelistStore,
  checkWhitelistEntry,
} from './whitelist';
export type { WhitelistKind } from './whitelist';
export {
  MemberCache,
  announceMembershipChange,
  followMembershipChanges,
  membershipChannel,
} from './members';
