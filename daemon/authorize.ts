/**
 * The daemon's L4 authorization entry point. The decision itself lives in
 * core/mesh/authorize.ts so that `ambit explain` asks the very function the
 * inbound, same-node and plaintext paths ask, instead of a copy of it.
 */
export { authorizeL4, type L4Source } from '../core/mesh/authorize.js';
