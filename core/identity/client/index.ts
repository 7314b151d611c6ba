/** The node side of identity: join, node identity on disk, and the certificate manager. */
export { CertManager, type CertManagerEvents, type CertManagerOptions, type CertMaterial, type CertStatus } from './cert-manager.js';
export { joinNode, type JoinOptions } from './join.js';
export { DEFAULT_NODE_DIR, loadNodeIdentity, nodeAuth, nodeFiles, nodeIdentity, saveNodeIdentity, type NodeIdentity } from './node-identity.js';
export { requestJoin, requestNodeRenewal, requestWorkloadCert, type KeyedCert } from './requests.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, SignerClient } from './signer-client.js';
