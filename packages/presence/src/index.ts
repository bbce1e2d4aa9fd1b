export { Presence } from './presence';
export {
  WHITELIST_KINDS,
  WhitelistEntryError,
  WhitelistStore,
  checkWhitelistEntry,
} from './whitelist';
export type { WhitelistKind } from './whitelist';
