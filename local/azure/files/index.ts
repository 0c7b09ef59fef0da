/** Local Azure Files endpoint: see server.ts. */
export { startFileShareEmulator } from './server.js';
export type { FileShareEmulator, FileShareEmulatorOptions, FileRequestLog, FileRequestLogEntry } from './server.js';
