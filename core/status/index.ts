/** Report shapes one ambit process writes and another reads (admin API, store status records). */
export type * from './tunnels.js';
export type * from './admin.js';
export { nodeStatusSchema } from './tunnels.js';
