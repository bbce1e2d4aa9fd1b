export { loadConfig } from './config';
export type { JournalConfig } from './config';
export { buildJournal } from './server';
export type { Journal } from './server';
