export { Presence } from './presence';
export {
  DEFAULT_WHITELIST_TTL_SECONDS,
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
