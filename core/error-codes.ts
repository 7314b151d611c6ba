/**
 * Every error code ambit throws, logs or reports, in one place, each with what
 * it means and what an operator should do about it. Codes are how scripts,
 * metrics labels, log searches and tests recognise a failure, so they are
 * stable: add codes here, never rename one.
 *
 * - `AmbitError` only accepts a code listed here (or in PASSED_THROUGH), so a
 *   module's union of codes with an unregistered member does not compile.
 * - test/unit/error-codes.test.ts scans core, daemon, waypoint, cli and native
 *   for code literals: an unregistered one, or a registered one nothing uses
 *   any more, fails it; so does docs/errors.md when it is not what
 *   `npm run docs:errors` renders from this file.
 * - Codes of the OS, Node and libraries that ambit checks for or reports as it
 *   got them are in PASSED_THROUGH, with what ambit does with each.
 */

/** Where an error comes from; docs/errors.md groups codes by it, in this order. */
export const COMPONENTS = {
  config: 'Configuration (`ambit apply`, settings files)',
  store: 'Store (Redis)',
  access: 'Store roles and credentials (Redis ACL users)',
  identity: 'Identity (CA, signer, certificates, join tokens)',
  authz: 'AuthorizationPolicy',
  vip: 'Virtual IPs',
  hbone: 'HBONE tunnels (ambitd and ambit-waypoint)',
  capture: 'Capture (iptables, original destination, socket owner)',
  mesh: 'Mesh state (ambitd and ambit-waypoint)',
  daemon: 'ambitd outbound',
  dns: 'ambitd DNS',
  waypoint: 'ambit-waypoint',
  cli: 'CLI (`ambit`)',
  analyze: 'Findings of `ambit analyze` (severity in brackets; the finding itself names the resource and its fix)',
} as const;

export type Component = keyof typeof COMPONENTS;

export interface ErrorCodeInfo {
  readonly component: Component;
  /** What happened, in one line. */
  readonly meaning: string;
  /** What an operator should do about it, in one line. */
  readonly action: string;
}

export const ERROR_CODES = {
  // config: core/errors.ts ConfigErrorCode
  ECONFIG_YAML: {
    component: 'config',
    meaning: 'The file is not valid YAML; the message names the line.',
    action: 'Fix the YAML at that line (indentation, quoting, a tab).',
  },
  ECONFIG_READ: {
    component: 'config',
    meaning: 'A file given with `-f` cannot be read, or `-` was given without standard input.',
    action: 'Check the path and its permissions, or pipe the documents in.',
  },
  ECONFIG_TOO_LARGE: {
    component: 'config',
    meaning: 'A file (or standard input) given to `ambit apply -f` or `delete -f` is larger than 64 MiB; nothing was read further or stored.',
    action: 'Split the file into several and apply them one after another.',
  },
  ECONFIG_TOO_MANY_DOCUMENTS: {
    component: 'config',
    meaning: 'One `ambit apply` or `delete -f` holds more than 10,000 documents (over all its files); nothing was stored.',
    action: 'Split the documents into files of at most 10,000 and apply them one after another.',
  },
  ECONFIG_KIND: {
    component: 'config',
    meaning: 'A document has a `kind` ambit does not support.',
    action: 'Use one of the kinds the message lists; remove documents meant for other tools.',
  },
  ECONFIG_API_VERSION: {
    component: 'config',
    meaning: 'The `apiVersion` is not one the kind is served under.',
    action: 'Use one of the apiVersions the message lists (v1, v1beta1, v1alpha3 for Istio kinds).',
  },
  ECONFIG_TYPE: {
    component: 'config',
    meaning: 'A field has the wrong type (a mapping where a list belongs, a string for a number).',
    action: 'Give the field the type the message names.',
  },
  ECONFIG_VALUE: {
    component: 'config',
    meaning: 'A field has a value that is not allowed there.',
    action: 'Use one of the values the message lists, or a value in range.',
  },
  ECONFIG_REQUIRED: { component: 'config', meaning: 'A required field is missing.', action: 'Add the field the message names.' },
  ECONFIG_UNSUPPORTED: {
    component: 'config',
    meaning: 'A field or value that ambit does not implement (refused, never silently ignored).',
    action: 'Remove it, or find the ambit equivalent in README "Istio resources".',
  },
  ECONFIG_DUPLICATE: {
    component: 'config',
    meaning: 'The same kind/namespace/name is defined twice across the inputs.',
    action: 'Keep one of the two definitions the message points at.',
  },
  ECONFIG_EMPTY: {
    component: 'config',
    meaning:
      'The files, directory or standard input given with `-f` hold no resource: empty, comments only, or a directory without *.yaml, *.yml or *.json files.',
    action: 'Point `-f` at the Istio or ambit YAML you meant (a directory is read one level deep), or pipe the documents in.',
  },
  ECONFIG_MULTIPLE: {
    component: 'config',
    meaning: 'Several configuration problems at once; each is listed on its own line.',
    action: 'Fix each listed problem; each line names its file, line and field.',
  },

  // store: core/errors.ts StoreErrorCode, NotFoundError
  ESTORE_INVALID: {
    component: 'store',
    meaning: 'A record to write is malformed (a name with "/" or spaces, a bad port or TTL, one key twice in an apply).',
    action: 'Fix the value the message names; from the CLI, check the flags or documents given.',
  },
  ESTORE_CONFLICT: {
    component: 'store',
    meaning: 'Other writers kept changing the same keys, and the write gave up after its retries.',
    action: 'Run the command again; if it keeps failing, look for a process rewriting the mesh in a loop.',
  },
  ESTORE_CORRUPT: {
    component: 'store',
    meaning:
      'The store holds a record ambit cannot read or that fails its schema (the message names the key and field), or an unknown change type in the change log.',
    action:
      'Check that every node runs the same ambit version and the same store.keyPrefix; find who wrote the named key (the store is not trusted: a forged record is refused) and re-apply or re-enroll it.',
  },
  ESTORE_NOT_FOUND: {
    component: 'store',
    meaning: 'The resource, endpoint, waypoint or trust-bundle root you named does not exist.',
    action: 'Check the kind, namespace and name (`ambit get`); pass --ignore-not-found where a command offers it.',
  },
  EREDIS_URL: {
    component: 'store',
    meaning: 'The Redis URL is malformed, or its scheme is not redis:// or rediss://.',
    action: 'Fix store.url (or --redis / AMBIT_REDIS_URL): redis://host:port[/db].',
  },
  EREDIS_AUTH: {
    component: 'store',
    meaning: 'Redis refused the credentials (NOAUTH, WRONGPASS).',
    action: 'Check the user and password in the Redis URL or AMBIT_REDIS_PASSWORD against the Redis ACL.',
  },
  // access: core/access/errors.ts AccessErrorCode
  EACCESS_BAD_NODE_NAME: {
    component: 'access',
    meaning: 'A node name is not 1-63 characters of [A-Za-z0-9._-], so it cannot name an ACL user or a key.',
    action: 'Pick a node name of letters, digits, dot, underscore and dash.',
  },
  EACCESS_CREDENTIALS: {
    component: 'access',
    meaning: 'A store credentials file is missing, unreadable, readable by others, or not {"username", "password"}.',
    action: 'Point AMBIT_REDIS_CREDENTIALS (or store.credentialsFile) at the file `ambit store init` or `ambit node join` wrote; keep it mode 0600.',
  },
  EACCESS_NOT_ADMIN: {
    component: 'access',
    meaning: 'The Redis user in use may not create or delete ACL users.',
    action: 'Run `ambit store init` once as the Redis administrator (the default user of a fresh Redis), then use the operator credentials it writes.',
  },
  EACCESS_DENIED: {
    component: 'access',
    meaning: 'Redis refused a command with NOPERM: the role of these credentials may not do it (a node may write only its own keys).',
    action: 'Run the command with the operator credentials (AMBIT_REDIS_CREDENTIALS=/etc/ambit/store/operator.json); a node never needs them.',
  },
  EACCESS_REPLICA_UNREACHABLE: {
    component: 'access',
    meaning:
      'An ACL change (store init, a node token, a node removal) could not reach a replica Sentinel or the master lists, or no sentinel answered; Redis does not replicate ACL users, so nothing was changed.',
    action: 'Bring the replica back (or, if it is gone for good, SENTINEL RESET <name> on each sentinel) and run the command again.',
  },
  EACCESS_PARTIAL: {
    component: 'access',
    meaning: "An ACL change was applied on some of the store's servers but not on the ones the message names (lost part-way).",
    action: "Bring those servers back and run the command again, or copy the master's ACL file to them and restart them, before any failover.",
  },
  EACCESS_DEFAULT_IN_USE: {
    component: 'access',
    meaning: 'Turning the default user off would break replication or Sentinel, which still authenticate as it (the message names each link).',
    action:
      'Give replication and Sentinel their own ACL users (masteruser/masterauth, sentinel auth-user/auth-pass; docs/store-roles.md), or pass --keep-default-user.',
  },
  EREDIS_UNREACHABLE: {
    component: 'store',
    meaning: 'Redis did not answer (connection refused, timed out or closed).',
    action: 'Start Redis or fix its address; daemons keep serving their last configuration meanwhile.',
  },
  EREDIS: {
    component: 'store',
    meaning: 'Redis answered a command with an error ambit has no better name for.',
    action: 'Read the Redis error in the message (OOM, READONLY replica, ...) and fix Redis.',
  },
  EMESH_POLICY_INVALID: {
    component: 'mesh',
    meaning:
      'A stored AuthorizationPolicy, PeerAuthentication or RequestAuthentication fails its schema, so the whole snapshot was refused and the previous one keeps serving.',
    action: 'Find the resource the daemon log names (config snapshot rejected), fix it with `ambit apply`, or delete it with `ambit delete`.',
  },

  // identity: core/identity/errors.ts IdentityErrorCode, and daemon/identity.ts
  EIDENTITY_INVALID_SPIFFE_ID: {
    component: 'identity',
    meaning: 'A SPIFFE ID or trust domain is malformed, or names the wrong kind of identity.',
    action: 'Use spiffe://<trust-domain>/ns/<ns>/sa/<sa> for workloads; trust domains are lower-case DNS-like names.',
  },
  EIDENTITY_NO_SPIFFE_ID: {
    component: 'identity',
    meaning: 'A certificate carries no SPIFFE ID (no URI SAN), or one naming only a trust domain.',
    action: 'Use a certificate ambit issued, or one with exactly one spiffe:// URI SAN.',
  },
  EIDENTITY_MULTIPLE_URI_SANS: {
    component: 'identity',
    meaning: 'A certificate has more than one URI SAN; an SVID must have exactly one.',
    action: 'Issue the certificate with a single spiffe:// URI SAN.',
  },
  EIDENTITY_WRONG_TRUST_DOMAIN: {
    component: 'identity',
    meaning: 'An identity, CSR or CA belongs to another trust domain than the mesh.',
    action: "Check mesh.trustDomain on this node against the store's trust bundle (`ambit doctor`).",
  },
  EIDENTITY_UNSUPPORTED_KEY: {
    component: 'identity',
    meaning: 'A key type ambit does not issue or import.',
    action: 'Use ECDSA P-256 (P-384 or RSA >= 2048 only for an imported root).',
  },
  EIDENTITY_BAD_PEM: {
    component: 'identity',
    meaning: 'A PEM certificate or key is missing or unreadable.',
    action: 'Check the file holds the PEM the message expects (one certificate, or a private key).',
  },
  EIDENTITY_FILE_NOT_FOUND: {
    component: 'identity',
    meaning: 'A certificate or key file is missing, or only one of a cert/key pair was given.',
    action: 'Give both files of the pair and check their paths.',
  },
  EIDENTITY_FILE_EXISTS: {
    component: 'identity',
    meaning: 'ambit refused to overwrite an existing key or certificate file.',
    action: 'Pass --force if you mean to replace it (a node joining again needs a new token).',
  },
  EIDENTITY_KEY_MISMATCH: {
    component: 'identity',
    meaning: 'The CA private key does not belong to the CA certificate.',
    action: 'Give the matching cert/key pair.',
  },
  EIDENTITY_NOT_CA: {
    component: 'identity',
    meaning: 'A certificate used as a CA or trust root is not a CA certificate.',
    action: 'Use a certificate with basicConstraints CA:TRUE and keyUsage keyCertSign.',
  },
  EIDENTITY_CA_EXPIRED: {
    component: 'identity',
    meaning: 'The CA certificate has expired or is not valid yet.',
    action: 'Rotate the CA (`ambit ca rotate`), and check the host clock.',
  },
  EIDENTITY_CHAIN_BROKEN: {
    component: 'identity',
    meaning: 'The CA chain is out of order or does not reach its root.',
    action: 'Pass the chain leaf-first and include the root certificate.',
  },
  EIDENTITY_CSR_INVALID: {
    component: 'identity',
    meaning: 'A certificate signing request is malformed or too large.',
    action: 'On a node, remove its key and join again; otherwise the request was not made by ambit.',
  },
  EIDENTITY_CSR_SIGNATURE: {
    component: 'identity',
    meaning: "A CSR's signature does not verify with the key in it.",
    action: 'The request was damaged or forged: check the node that sent it.',
  },
  EIDENTITY_CSR_UNEXPECTED_SAN: {
    component: 'identity',
    meaning: 'A CSR asks for a subjectAltName other than the SPIFFE ID URI.',
    action: 'Only the SPIFFE ID is issued; the request was not made by ambit.',
  },
  EIDENTITY_CSR_IDENTITY_MISMATCH: {
    component: 'identity',
    meaning: 'A CSR asks for another identity than the one the request is for.',
    action: 'Check the node that sent it; a daemon only asks for enrolled identities.',
  },
  EIDENTITY_BAD_TTL: {
    component: 'identity',
    meaning: 'A certificate or join-token lifetime is not a positive number of seconds.',
    action: 'Give a positive duration (e.g. 24h).',
  },
  EIDENTITY_UNTRUSTED: {
    component: 'identity',
    meaning: 'A certificate chain does not lead to a root in the trust bundle.',
    action: 'Check the trust bundle (`ambit ca bundle`); after a root rotation, wait for renewal or re-join the node.',
  },
  EIDENTITY_EXPIRED: {
    component: 'identity',
    meaning: 'A certificate has expired or is not valid yet.',
    action: 'Check the clocks (`ambit doctor` clock skew) and that the signer is running to renew it.',
  },
  EIDENTITY_NOT_LEAF: {
    component: 'identity',
    meaning: 'A CA certificate was presented where a workload or node certificate belongs.',
    action: 'Present the leaf certificate ambit issued.',
  },
  EIDENTITY_WRONG_PURPOSE: {
    component: 'identity',
    meaning: "A peer certificate's extended key usage does not allow the TLS role it was presented in (clientAuth on a client, serverAuth on a server).",
    action: 'Present the leaf certificate ambit issued (it allows both); re-issue certificates made by other tools with serverAuth and clientAuth.',
  },
  EIDENTITY_BUNDLE_INVALID: {
    component: 'identity',
    meaning: 'The stored trust bundle is not {"trustDomain", "roots": [PEM, ...]}.',
    action: 'Recreate it with `ambit ca init --force` (existing certificates stop verifying).',
  },
  EIDENTITY_BUNDLE_FULL: {
    component: 'identity',
    meaning: 'The trust bundle already holds two roots: a rotation is still running.',
    action: 'Finish it first: `ambit ca rotate --finish`.',
  },
  EIDENTITY_BUNDLE_EMPTY: {
    component: 'identity',
    meaning: 'The trust bundle would have no root left.',
    action: 'Add the new root before removing the old one.',
  },
  EIDENTITY_TOKEN_UNKNOWN: {
    component: 'identity',
    meaning: 'The join token is unknown (mistyped, or expired more than 7 days ago).',
    action: 'Create a new one: `ambit node token create`.',
  },
  EIDENTITY_TOKEN_USED: {
    component: 'identity',
    meaning: 'The join token was already used; tokens are one-time.',
    action: 'Create a new one: `ambit node token create`.',
  },
  EIDENTITY_TOKEN_EXPIRED: { component: 'identity', meaning: 'The join token has expired.', action: 'Create a new one: `ambit node token create`.' },
  EIDENTITY_NODE_EXISTS: {
    component: 'identity',
    meaning: 'A join, or a join token, asked for a node name that has already joined: a node identity is minted once.',
    action:
      'If the host was rebuilt or its key lost, run `ambit node remove <name>` (its certificates are no longer renewed), then create a new token and join again.',
  },
  EIDENTITY_NODE_REMOVED: {
    component: 'identity',
    meaning: 'A node asked for a certificate, but it has no join record: an operator removed it (`ambit node remove`).',
    action: 'If the removal was meant, nothing; otherwise create a new token for the node and join it again.',
  },
  EIDENTITY_NODE_REVOKED: {
    component: 'identity',
    meaning:
      'A join, renewal or workload request came from a node name or a certificate on the revocation list of the operator-signed manifest (`ambit node remove`), whatever the store says about it.',
    action:
      'If the removal was meant, nothing. To bring the name back, `ambit node token create --node <name>` (it lifts the name, not the old certificates) and join again.',
  },
  EIDENTITY_PEER_REVOKED: {
    component: 'identity',
    meaning:
      'An HBONE peer presented a certificate that still chains to the root but is revoked: its serial, or the node it names, is on the operator-signed revocation list (`ambit node remove`). The connection was refused.',
    action: 'Expected from a removed node until its certificates expire; if the peer should be in the mesh, join it again with a new token.',
  },
  EIDENTITY_TOKEN_UNSIGNED: {
    component: 'identity',
    meaning:
      'A join token record in the store carries no valid operator signature (missing, not from an operator certificate of this mesh, or not matching the token, node or expiry): someone wrote it without the operator key.',
    action: 'Create tokens only with `ambit node token create` on an operator machine; a token record you did not create means the store is compromised.',
  },
  EIDENTITY_TOKEN_NO_NODE: {
    component: 'identity',
    meaning: 'A join token was asked for without a node name; every token is bound to the one node that may use it.',
    action: 'Pass --node <name> to `ambit node token create`.',
  },
  EIDENTITY_TOKEN_WRONG_NODE: {
    component: 'identity',
    meaning: 'The join token was created for another node name.',
    action: 'Join with the node name the token was made for, or create a token for this node.',
  },
  EIDENTITY_NOT_ENROLLED: {
    component: 'identity',
    meaning: 'A node asked for a workload identity that is not enrolled on it.',
    action: 'Enroll the service on that node (`ambit enroll`), or look for a compromised node.',
  },
  EIDENTITY_NOT_NODE: {
    component: 'identity',
    meaning: 'A request or node certificate does not carry a node identity.',
    action: 'Join the node again (`ambit node join`); only node daemons may request certificates.',
  },
  EIDENTITY_BAD_SIGNATURE: {
    component: 'identity',
    meaning: "A signing request's signature does not verify with the node's key.",
    action: 'Check the node that sent it; join it again if its key was replaced.',
  },
  EIDENTITY_STALE_REQUEST: {
    component: 'identity',
    meaning: "A signing request is too far from the signer's clock.",
    action: 'Fix NTP on the node and the signer host.',
  },
  EIDENTITY_REPLAY: {
    component: 'identity',
    meaning: 'A signing request reused a nonce: a replayed request.',
    action: 'Look for something replaying store traffic; a daemon never reuses a nonce.',
  },
  EIDENTITY_BAD_REQUEST: {
    component: 'identity',
    meaning: 'A signing request is malformed or unsigned.',
    action: 'Check that the node runs the same ambit version as the signer.',
  },
  EIDENTITY_NO_SIGNER: {
    component: 'identity',
    meaning: 'No signer answered the certificate request in time.',
    action: 'Run `ambit ca serve` or `ambitd --ca` on one host.',
  },
  EIDENTITY_NO_BUNDLE: { component: 'identity', meaning: 'The store has no trust bundle yet.', action: 'Create the mesh CA once: `ambit ca init`.' },
  EIDENTITY_BUNDLE_CONFLICT: {
    component: 'identity',
    meaning: 'The trust bundle changed underneath, already exists, or is not in the state the command needs.',
    action: 'Follow the message: read the bundle again, `ambit ca rotate`, or --force.',
  },
  EIDENTITY_CA_EXISTS: {
    component: 'identity',
    meaning: 'A CA already exists in that directory.',
    action: 'Use `ambit ca rotate`, or --force to replace it (certificates it issued stop verifying).',
  },
  EIDENTITY_NOT_JOINED: {
    component: 'identity',
    meaning: 'This node has no node certificate: it has not joined the mesh.',
    action: 'Create a token (`ambit node token create`) and run `ambit node join --token T`, or start ambitd with --token.',
  },
  EIDENTITY_SIGNER_FAILED: {
    component: 'identity',
    meaning: 'The signer failed on a request for a reason of its own.',
    action: "Read the signer's log (`ambit ca serve` or `ambitd --ca`).",
  },
  EIDENTITY_BUNDLE_UNSIGNED: {
    component: 'identity',
    meaning: "The store's trust bundle is not signed by a root the reader already trusts (forged, replayed, or published before bundles were signed).",
    action:
      'If you did not change the CA, treat the store as compromised; otherwise republish with `ambit ca rotate` (or `ambit ca init --force` and re-join the nodes).',
  },
  EIDENTITY_NO_OPERATOR_KEY: {
    component: 'identity',
    meaning: 'A write that changes security (policy, enrollment) needs the operator key, and none was found.',
    action: 'Run `ambit operator init` on the operator machine (or point `--operator-dir` / AMBIT_OPERATOR_DIR at the key).',
  },
  EIDENTITY_MANIFEST_INVALID: {
    component: 'identity',
    meaning:
      'The signed security manifest is missing, unsigned, not signed by an operator certificate, older than one already accepted, or does not match the store.',
    action: 'Re-run the last `ambit apply`/`enroll` from an operator machine; if nobody changed the mesh, treat the store as compromised.',
  },
  EIDENTITY_NOT_SIGNED: {
    component: 'identity',
    meaning:
      'A workload certificate was asked for an enrollment that is not in the verified security manifest (an enrollment written without the operator key).',
    action: 'Enroll the service with `ambit enroll` from an operator machine; if you did, re-run that `ambit enroll`.',
  },
  EIDENTITY_BAD_FINGERPRINT: {
    component: 'identity',
    meaning: 'A root fingerprint (`--root-fingerprint`, identity.rootFingerprint) is not a SHA-256 fingerprint.',
    action: 'Copy it from `ambit ca show` (64 hex digits; colon-separated or bare, either case).',
  },
  EIDENTITY_ROOT_MISMATCH: {
    component: 'identity',
    meaning:
      "A join was refused before anything was written: the store's trust bundle is not signed by the root the join token (or --root-fingerprint, identity.rootFingerprint) names.",
    action:
      'Check that the node points at the right store (--redis, AMBIT_REDIS_URL, store.url) and that the fingerprint is the one `ambit ca show` prints; if both are right, someone rewrote the trust bundle in the store: treat the store as compromised.',
  },
  EIDENTITY_ROOT_PIN_CONFLICT: {
    component: 'identity',
    meaning: '--root-fingerprint (or identity.rootFingerprint) names another root than the join token carries.',
    action: 'Pass the fingerprint `ambit ca show` prints for this mesh, or create a new token with `ambit node token create` where the operator key is.',
  },
  EIDENTITY_ROOT_UNPINNED: {
    component: 'identity',
    meaning:
      "A join, or `ambit ca bundle`, had nothing to check the store's root against: the token carries no root fingerprint (made by an older ambit) and none was given, or this host has neither the operator's roots.pem nor the CA.",
    action: 'Create a new token (`ambit node token create`), or pass --root-fingerprint (identity.rootFingerprint for ambitd) from `ambit ca show`.',
  },
  EIDENTITY_SEQUENCE_CORRUPT: {
    component: 'identity',
    meaning:
      'The state file holding the last accepted security-manifest sequence (manifest-sequence in the node, CA or waypoint state directory) exists but cannot be read or holds no sequence; reading it as 0 would accept a replayed older manifest, so the process stops.',
    action: 'Restore the file from a backup, or remove it to accept the manifest now in the store afresh (only once you know the store was not tampered with).',
  },
  EIDENTITY_NODE_NAME: {
    component: 'identity',
    meaning: "ambitd's node certificate is for another node name than it is configured with.",
    action: 'Set node.name to the name in the certificate, or join again with --force.',
  },
  EIDENTITY_PENDING: {
    component: 'identity',
    meaning: 'ambitd has no certificate for an enrolled identity yet.',
    action: 'Check that a signer runs and that the identity is enrolled on this node.',
  },

  // authz: core/authz/errors.ts AuthzErrorCode
  EAUTHZ_NOT_A_POLICY: {
    component: 'authz',
    meaning: 'A resource handed to the policy compiler is not an AuthorizationPolicy.',
    action: 'A bug: report it with the resource.',
  },
  EAUTHZ_INVALID_SPEC: { component: 'authz', meaning: 'An AuthorizationPolicy does not pass the schema.', action: 'Fix the fields the message lists.' },
  EAUTHZ_PATH_TEMPLATE: {
    component: 'authz',
    meaning: 'A `paths`/`notPaths` entry uses `{*}` or `{**}` in a way Istio rejects.',
    action: 'Use whole path segments: /a/{*}/b, or {**} only as the last segment.',
  },
  EAUTHZ_CONDITION_KEY: {
    component: 'authz',
    meaning: 'A `when` condition uses a key Istio does not define.',
    action: "Use one of Istio's condition keys (source.ip, request.headers[...], ...).",
  },
  EAUTHZ_DRY_RUN_ANNOTATION: {
    component: 'authz',
    meaning: 'The istio.io/dry-run annotation is not "true" or "false".',
    action: 'Set it to "true" or "false".',
  },
  EAUTHZ_INVALID: { component: 'authz', meaning: 'Several AuthorizationPolicies failed to compile; each is listed.', action: 'Fix each listed policy.' },

  // vip: core/vip/errors.ts VipErrorCode
  EVIP_INVALID_CIDR: {
    component: 'vip',
    meaning: 'The VIP range is not an IP prefix, or has host bits set.',
    action: 'Give a prefix like 240.240.0.0/16 (the message suggests one).',
  },
  EVIP_EXHAUSTED: {
    component: 'vip',
    meaning: 'Every address in the VIP range is taken.',
    action: 'Configure a larger range, or unenroll services that are gone.',
  },
  EVIP_RANGE_IN_USE: {
    component: 'vip',
    meaning: 'A new VIP range would leave allocated VIPs outside it.',
    action: 'Unenroll the services the message lists, or choose a range that contains them.',
  },

  // hbone: core/hbone/errors.ts HboneErrorCode, and the splice results
  EHBONE_TLS: {
    component: 'hbone',
    meaning: 'The TLS handshake with the peer failed (untrusted chain, no client certificate, protocol).',
    action: 'Check both nodes trust the same bundle and have current certificates (`ambit certs`, `ambit doctor`).',
  },
  EHBONE_PEER_IDENTITY: {
    component: 'hbone',
    meaning: "The peer's certificate has no SPIFFE ID, or not the one expected.",
    action: 'Check which node really answers at that address (`ambit get nodes`); re-join it if its certificate is wrong.',
  },
  EHBONE_DENIED: {
    component: 'hbone',
    meaning: "The peer's policy denied the connection (HTTP 401/403).",
    action: 'Look at the AuthorizationPolicies for the destination (`ambit get authorizationpolicies`, `ambit_authz_denials_total`).',
  },
  EHBONE_REFUSED: {
    component: 'hbone',
    meaning: 'The peer will not tunnel to that address: no workload enrolled there on its node.',
    action: 'Check the endpoint is enrolled on the node it runs on (`ambit get endpoints`).',
  },
  EHBONE_BAD_AUTHORITY: {
    component: 'hbone',
    meaning: 'The CONNECT :authority is not ip:port.',
    action: 'A client bug, or not an HBONE client: check what connects to port 15008.',
  },
  EHBONE_BAD_METHOD: { component: 'hbone', meaning: 'A request on port 15008 was not CONNECT (HTTP 405).', action: 'Only HBONE clients belong on port 15008.' },
  EHBONE_UPSTREAM_UNAVAILABLE: {
    component: 'hbone',
    meaning: 'The peer could not connect to the service behind it (HTTP 502/503/504).',
    action: 'Check the service is running and listening on the destination host.',
  },
  EHBONE_CONNECT_ERROR: {
    component: 'hbone',
    meaning: 'The tunnelled TCP connection failed after it was set up (RST_STREAM CONNECT_ERROR).',
    action: 'The service reset the connection: look at the service on the destination host.',
  },
  EHBONE_STREAM_RESET: {
    component: 'hbone',
    meaning: 'The tunnel stream was reset with another HTTP/2 error code.',
    action: "Read the code in the message; look at the peer daemon's log.",
  },
  EHBONE_BAD_STATUS: {
    component: 'hbone',
    meaning: 'The peer answered CONNECT with a status ambit does not know.',
    action: "Check what listens on the peer's port 15008 (another mesh, a proxy).",
  },
  EHBONE_PEER_UNREACHABLE: {
    component: 'hbone',
    meaning: "The peer node's address did not answer (refused, no route).",
    action: 'Check ambitd runs on the peer and port 15008 is reachable (firewall, routes).',
  },
  EHBONE_SESSION_CLOSED: {
    component: 'hbone',
    meaning: 'The tunnel session went away (closed, GOAWAY, socket error) before the stream was up.',
    action: "Usually retried; if it persists, look at the peer daemon's log.",
  },
  EHBONE_TIMEOUT: {
    component: 'hbone',
    meaning: 'Dialling the peer or its CONNECT answer took longer than the timeout.',
    action: 'Check the network path to the peer and its load.',
  },
  EHBONE_NO_IDENTITY: {
    component: 'hbone',
    meaning: 'There is no TLS identity for the source workload.',
    action: "Check the workload's certificate was issued (`ambit certs`) and a signer runs.",
  },
  EHBONE_CLOSED: {
    component: 'hbone',
    meaning: 'The HBONE client or server was closed by its owner (shutting down).',
    action: 'None during shutdown; otherwise look at why the process is stopping.',
  },
  EHBONE_HANDSHAKE_TIMEOUT: {
    component: 'hbone',
    meaning: 'A connection to port 15008 did not finish its TLS handshake and HTTP/2 SETTINGS within hbone.handshakeTimeout; it was closed.',
    action: 'Usually a scanner or a stalled peer: look at the peer address in the log; raise hbone.handshakeTimeout only for very slow links.',
  },
  EHBONE_HANDSHAKE_LIMIT: {
    component: 'hbone',
    meaning: 'A connection to port 15008 was closed at once: its source address already had hbone.maxPendingHandshakesPerAddress unfinished handshakes.',
    action: 'One address opening many connections that never finish TLS is a flood; block it, or raise the limit for a NAT gateway.',
  },
  EHBONE_KEEPALIVE_TIMEOUT: {
    component: 'hbone',
    meaning: 'An HBONE peer did not answer an HTTP/2 PING within hbone.keepaliveTimeout; its session and every stream on it were destroyed.',
    action: 'The peer died, vanished or stopped reading: check the peer node and the network path to it.',
  },
  EHBONE_STREAM_LIMIT: {
    component: 'hbone',
    meaning: 'An HBONE peer opened more concurrent streams on one connection than the server allows; that stream was refused (RST_STREAM REFUSED_STREAM).',
    action: 'A client that ignores the limit (ambit clients open at most 100 per connection): look at what the peer runs.',
  },
  EHBONE_CONNECTION_LIMIT: {
    component: 'hbone',
    meaning:
      "An HBONE stream was refused with 503: its source already held as many connections to the workload as the service's ConnectionLimit allows one source (maxConnectionsPerSource).",
    action:
      'The caller holds too many connections open (a leak, or no pooling): fix it, or raise maxConnectionsPerSource. Behind a waypoint the source is the waypoint: limit callers there (DestinationRule connectionPool).',
  },
  ERR_TLS_PEER_REJECTED: {
    component: 'hbone',
    meaning: 'The peer closed right after the TLS handshake: it rejected our client certificate (the tlsCode of an EHBONE_TLS).',
    action: "Look at the peer daemon's log for why; check both trust the same bundle.",
  },
  ERR_SOCKET: {
    component: 'hbone',
    meaning: 'The socket side of a splice failed with an error that had no code.',
    action: "Look at the log line's message; usually the application closed abruptly.",
  },
  ERR_STREAM: {
    component: 'hbone',
    meaning: 'The tunnel side of a splice failed with an error that had no code.',
    action: "Look at the log line's message and the peer daemon's log.",
  },

  // capture: daemon/capture.ts, core/net/original-dst.ts, daemon/socket-owner.ts, native/
  ECAPTURE: {
    component: 'capture',
    meaning: 'A scripts/iptables script failed to apply or remove the capture rules.',
    action: "Read the script's stderr in the message; `ambit doctor` checks iptables and the kernel features.",
  },
  ENATIVE_MISSING: {
    component: 'capture',
    meaning: 'The SO_ORIGINAL_DST addon is not built, or built for another Node.',
    action: 'Run `npm run build:native` (the .deb ships it built).',
  },
  EORIGDST: {
    component: 'capture',
    meaning: 'The addon failed without a code while reading the original destination.',
    action: 'A bug: report it with the message.',
  },
  EUNKNOWN: {
    component: 'capture',
    meaning: 'getsockopt(SO_ORIGINAL_DST) failed with an errno the addon does not name.',
    action: 'Read the strerror text in the message.',
  },
  ESOCKDIAG: {
    component: 'capture',
    meaning: 'The sock_diag lookup of a captured client\'s socket failed (other than "no such socket").',
    action: 'Run ambitd with CAP_NET_ADMIN (the installed unit has it).',
  },
  ECONNTRACK: {
    component: 'capture',
    meaning: 'Asking conntrack over netlink failed (other than "no such entry").',
    action: '`modprobe nf_conntrack_netlink` and run ambitd with CAP_NET_ADMIN; `ambit doctor` checks it.',
  },
  ESOCKET_OWNER_UNKNOWN: {
    component: 'capture',
    meaning: "No socket on this host has the captured client's address: ambitd cannot tell its uid, so it resets the connection.",
    action: 'See README Troubleshooting "connection reset right after connect"; `ambit doctor` checks conntrack.',
  },

  // daemon: daemon/inbound-plaintext.ts
  EINBOUND_NO_WORKLOAD: {
    component: 'daemon',
    meaning:
      'Plaintext TCP was captured for a local workload port, but no workload enrolled on this node matches its destination (rules not yet updated after an unenroll), or two local workloads share the port and the caller dialled neither address.',
    action: "Dial the workload's enrolled address (`ambit get endpoints`); the connection is refused rather than delivered unauthorized.",
  },

  // daemon: daemon/outbound.ts, core/net/inherited-sockets.ts (socket activation)
  EOUTBOUND_NO_ENDPOINT: {
    component: 'daemon',
    meaning: 'Every endpoint of the destination service failed or none is healthy.',
    action: "Check the service's endpoints (`ambit get endpoints`) and why they refuse.",
  },
  EOUTBOUND_UNRESOLVED: {
    component: 'daemon',
    meaning: 'A ServiceEntry host resolved to no address.',
    action: "Check the host name resolves from the daemon's host.",
  },
  ELISTEN_FDS: {
    component: 'daemon',
    meaning: 'LISTEN_PID, LISTEN_FDS or LISTEN_FDNAMES (systemd socket activation) is set but malformed; ambitd did not start.',
    action: 'Start ambitd through its units (systemctl start ambitd), or unset the three variables to have it bind its ports itself.',
  },
  ELISTEN_FD_MISMATCH: {
    component: 'daemon',
    meaning: 'A socket systemd passed ambitd (ambitd-<name>.socket) is not on the protocol or port ambitd.yaml says; ambitd did not start.',
    action: 'Re-run `ambit install` (it writes the socket units from ambitd.yaml), then `systemctl daemon-reload` and restart the socket units and ambitd.',
  },
  ERROR: {
    component: 'daemon',
    meaning: 'A connection failed with an error that had no code (the reason label of ambit_connect_failures_total).',
    action: "Look at ambitd's log lines for that connection.",
  },

  // dns: daemon/dns/errors.ts DnsErrorCode
  EDNS_BIND: {
    component: 'dns',
    meaning: 'The DNS listener could not bind (port in use, no such address).',
    action: 'Free the port (15053 by default) or change ports.dns in ambitd.yaml.',
  },
  EDNS_NO_UPSTREAM: {
    component: 'dns',
    meaning: 'There is no upstream resolver to forward non-mesh names to.',
    action: 'Configure one (dns.upstreams in ambitd.yaml) or fix /etc/resolv.conf.',
  },
  EDNS_UPSTREAM_TIMEOUT: {
    component: 'dns',
    meaning: 'No upstream resolver answered in time; the client got SERVFAIL.',
    action: 'Check the upstream resolvers are reachable from this host.',
  },
  EDNS_UPSTREAM_UNREACHABLE: {
    component: 'dns',
    meaning: 'Every upstream resolver refused or failed at the socket level.',
    action: 'Check the upstream addresses and that they run a resolver.',
  },
  EDNS_OVERLOADED: {
    component: 'dns',
    meaning: 'Too many forwarded queries were outstanding; this one was shed with SERVFAIL.',
    action: 'Look for a client flooding DNS, or slow upstreams.',
  },
  EDNS_BAD_UPSTREAM: {
    component: 'dns',
    meaning: 'An upstream resolver address is not ip, ip:port or [ip6]:port.',
    action: 'Fix the address in dns.upstreams.',
  },
  EDNS_LOOKUP: { component: 'dns', meaning: 'The mesh name lookup threw; the client got SERVFAIL.', action: 'A bug: report it with the log line.' },

  // waypoint: waypoint/errors.ts WaypointErrorCode, core/routing/errors.ts RoutingErrorCode
  EWAYPOINT_CONNECT: {
    component: 'waypoint',
    meaning: 'The waypoint got no HBONE stream to the chosen endpoint (unreachable, refused or denied).',
    action: "Check the endpoint's node and policy; the cause names the HBONE code.",
  },
  EWAYPOINT_STALE: {
    component: 'waypoint',
    meaning: 'A pooled upstream connection was closed by the endpoint before the request was sent on it.',
    action: 'Usually none: a replayable request is sent again at once on a new connection; many of them point at a short upstream idle timeout.',
  },
  EWAYPOINT_CONFIG: {
    component: 'waypoint',
    meaning: "ambit-waypoint's flags, environment or certificate are missing or invalid.",
    action: 'Fix the flag the message names; `ambit waypoint attach` sets them for you.',
  },
  EJWKS_UNAVAILABLE: {
    component: 'waypoint',
    meaning: "No verification keys for a jwtRule's issuer: its jwksUri (or OpenID discovery document) could not be fetched yet; tokens of that issuer get 401.",
    action: 'Check the URL in the waypoint log is reachable from the waypoint host; the last good keys are kept once one fetch has succeeded.',
  },
  ERATELIMIT_STORE: {
    component: 'waypoint',
    meaning: 'A global RateLimit rule could not take a token: the store did not answer within 100 ms.',
    action: "Check the store from the waypoint's host (`ambit doctor`); meanwhile the rule's failureMode (allow by default) applies.",
  },
  EOIDC_PROVIDER_UNAVAILABLE: {
    component: 'waypoint',
    meaning: "An OidcLogin's issuer could not be reached: its /.well-known/openid-configuration or token endpoint did not answer usably; the browser gets 503.",
    action:
      'Check the URL in the waypoint log is reachable from the waypoint host; discovery is retried every few seconds and the last good endpoints are kept.',
  },
  EOIDC_GRANT_REFUSED: {
    component: 'waypoint',
    meaning: "An OidcLogin's issuer refused the code or refresh token, or its ID token did not verify (signature, audience, nonce); the login fails with 401.",
    action:
      'Check the clientId and the client secret file match the client registered at the issuer, and that its redirect URI is http(s)://<host><redirectPath>.',
  },
  EOIDC_SESSION_TOO_LARGE: {
    component: 'waypoint',
    meaning: "An OidcLogin session (the ID token's claims and refresh token) does not fit in a browser cookie once sealed.",
    action: 'Ask the issuer for fewer claims (fewer scopes, or leave large claims such as group lists out of the ID token).',
  },
  EROUTE_KIND: { component: 'waypoint', meaning: 'A resource of the wrong kind reached the route compiler.', action: 'A bug: report it with the resource.' },
  EROUTE_REGEX: { component: 'waypoint', meaning: 'A regex in a route match does not compile.', action: 'Fix the regex in the VirtualService (RE2 syntax).' },
  EROUTE_WEIGHTS: { component: 'waypoint', meaning: "A route's destination weights do not add up to 100.", action: 'Make the weights add up to 100.' },

  // cli
  EUSAGE: {
    component: 'cli',
    meaning: 'A command-line flag or argument is missing or invalid (exit code 2).',
    action: 'Fix the flag the message names; `ambit <command> --help` lists them.',
  },
  EINSTALL_NOT_ROOT: { component: 'cli', meaning: '`ambit install`/`uninstall` needs root.', action: 'Run it with sudo, or look first with --dry-run.' },
  EINSTALL_SOURCE: {
    component: 'cli',
    meaning: 'This copy of ambit is missing files install needs.',
    action: 'Reinstall ambit (the .deb or npm package), or build the checkout.',
  },
  EINSTALL_LOCATION: {
    component: 'cli',
    meaning: 'ambit would be installed from a private /tmp that systemd cannot see.',
    action: 'Install from a path outside /tmp, as the message says.',
  },
  EINSTALL_MISSING_TOOL: { component: 'cli', meaning: 'A command the ambitd unit runs is not on this host.', action: 'Install it (coreutils, procps).' },
  EINSTALL_CONFIG: {
    component: 'cli',
    meaning: 'The existing ambitd config file is not valid.',
    action: 'Fix the file, or pass --force to replace it with a fresh one.',
  },
  EINSTALL_COMMAND: {
    component: 'cli',
    meaning: 'A command install or uninstall runs (systemctl, iptables) failed.',
    action: 'Read its output above the error and fix what it says.',
  },
  EINSTALL_TEMPLATE: {
    component: 'cli',
    meaning: 'The systemd unit template has a placeholder install does not fill in.',
    action: 'A packaging bug: reinstall ambit, or report it.',
  },
  EWAYPOINT_NOT_READY: {
    component: 'cli',
    meaning: '`ambit waypoint attach` registered the waypoint, but its node did not report it ready in time.',
    action: "Read ambitd's log on that node (`journalctl -u ambitd`) and run `ambit doctor` there.",
  },
  ENODE_HAS_ENROLLMENTS: {
    component: 'cli',
    meaning: '`ambit node remove` was asked to remove a node that still has services or waypoints enrolled on it.',
    action: 'Unenroll or move them first (`ambit get endpoints`, `ambit unenroll SERVICE --node NAME`), or pass `--force` to unenroll them with the node.',
  },
  EADMIN_UNREACHABLE: {
    component: 'cli',
    meaning: "ambitd's admin API did not answer (`ambit doctor`, `ambit tunnels`).",
    action: 'Check ambitd is running (`systemctl status ambitd`) and its adminAddress and ports.admin.',
  },
  EADMIN_BAD_REPLY: {
    component: 'cli',
    meaning: 'Something answered on the admin port, but not with JSON.',
    action: 'Another program holds the port: find it (`ss -ltnp`).',
  },
  ESTAT_PROMETHEUS: {
    component: 'cli',
    meaning: '`ambit stat --prometheus URL`: Prometheus did not answer the query, or answered with an error.',
    action: "Check the URL (Prometheus's base, e.g. http://127.0.0.1:9090) and that it scrapes the daemons and waypoints (`ambit prometheus sd`).",
  },
  ESTAT_NO_SOURCE: {
    component: 'cli',
    meaning: "`ambit stat` could scrape none of the daemons' or waypoints' metrics endpoints the store lists.",
    action: 'Run it on a mesh node (waypoints serve metrics on loopback), check --daemon-port, or pass --prometheus URL.',
  },
  ETAP_UNREACHABLE: {
    component: 'cli',
    meaning: "`ambit tap`: the waypoint's (or ambitd's) tap endpoint did not answer.",
    action: 'Run it on the node the message names (the endpoint listens on loopback), and check the proxy is running there.',
  },
  // analyze: cli/analyze/findings.ts AnalyzeCode. Findings, not failures: `ambit analyze` prints them and exits 1 for errors.
  EANALYZE_SUBSET_UNDEFINED: {
    component: 'analyze',
    meaning: '[Error] A VirtualService routes to a subset that no DestinationRule for that host defines: the waypoint answers 503 (NC).',
    action: 'Define the subset in the DestinationRule of that host, or route to a subset it defines.',
  },
  EANALYZE_SUBSET_NO_ENDPOINTS: {
    component: 'analyze',
    meaning: '[Warning] A VirtualService routes to a DestinationRule subset whose labels match no enrolled endpoint: those requests get 503 (UH).',
    action: "Fix the subset's labels to match an endpoint's (`ambit get endpoints SERVICE`), or enroll one with those labels.",
  },
  EANALYZE_HOST_NOT_FOUND: {
    component: 'analyze',
    meaning: '[Error for a route destination, Warning for a VirtualService or DestinationRule host] A host names no enrolled service and no ServiceEntry host.',
    action: "Correct the host (short names resolve in the document's namespace), enroll the service, or add a ServiceEntry for it.",
  },
  EANALYZE_NO_WAYPOINT: {
    component: 'analyze',
    meaning:
      "[Warning] A VirtualService has HTTP routes for a service without a waypoint: ambitd routes at L4 to the service's endpoints and applies none of them.",
    action: 'Attach a waypoint to the service (`ambit waypoint attach SERVICE --node NODE`), or delete the VirtualService.',
  },
  EANALYZE_HOST_CONFLICT: {
    component: 'analyze',
    meaning: '[Warning] Several VirtualServices (or DestinationRules) claim one host: only the oldest applies, the others are ignored for it.',
    action: 'Merge them into one resource per host.',
  },
  EANALYZE_PRINCIPAL_UNKNOWN: {
    component: 'analyze',
    meaning:
      '[Warning] An AuthorizationPolicy names a principal that matches no enrolled identity (spiffe://TD/ns/NS/sa/SA), so that part of the rule matches nobody.',
    action: 'Correct the principal (trust domain, namespace, service account: `ambit get endpoints -A`), or enroll the workload it is meant for.',
  },
  EANALYZE_L7_AT_L4: {
    component: 'analyze',
    meaning:
      '[Warning] An AuthorizationPolicy rule uses HTTP attributes (paths, methods, hosts, headers, requestPrincipals, JWT conditions) on a workload without a waypoint: ambitd enforces it at L4, where an ALLOW rule of that kind matches nothing and a DENY rule denies on its L4 parts alone.',
    action: 'Attach a waypoint to the service and bind the policy to it with targetRefs, or drop the HTTP attributes from the rule.',
  },
  EANALYZE_TARGET_NO_WAYPOINT: {
    component: 'analyze',
    meaning:
      '[Error] An AuthorizationPolicy binds with targetRefs to a service that has no waypoint (or does not exist): policies bound that way are enforced by waypoints only, so it is enforced nowhere.',
    action: 'Attach a waypoint to the service, or bind the policy with a selector so ambitd enforces it at L4.',
  },
  EANALYZE_POLICY_SHADOWED: {
    component: 'analyze',
    meaning:
      '[Warning] An ALLOW rule can never allow anything on a workload: a DENY policy there has a rule that matches every request, or exactly the same rule.',
    action: 'Narrow or delete the DENY rule, or delete the ALLOW rule it makes dead.',
  },
  EANALYZE_NAMESPACE_MISMATCH: {
    component: 'analyze',
    meaning: '[Error] A document names a namespace other than the one given with `-n` (kubectl refuses such a document).',
    action: 'Drop metadata.namespace from the document, or run with the namespace it names.',
  },
  EANALYZE_INVALID_STORED: {
    component: 'analyze',
    meaning:
      '[Error] An applied resource fails validation: ambitd and the waypoints leave it out of the mesh, or, for a security kind, refuse the whole snapshot and keep serving their previous one (EMESH_POLICY_INVALID).',
    action: 'Apply a corrected version (`ambit apply -f`), or delete it (`ambit delete KIND NAME`).',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code ambit itself throws or reports. */
export type AmbitErrorCode = keyof typeof ERROR_CODES;

export interface PassedThroughInfo {
  /** Who produces the code. */
  readonly from: string;
  /** What ambit does when it sees it, in one line. */
  readonly handling: string;
}

/**
 * Codes of the OS, Node and libraries that ambit checks for or reports as it
 * got them (in `err.code`, a `cause`, a metrics `reason`). They are not
 * ambit's to document; what ambit does with each is.
 */
export const PASSED_THROUGH = {
  ECONNREFUSED: {
    from: 'kernel (connect)',
    handling: 'Nothing listens there: retried on another endpoint, reported as EHBONE_PEER_UNREACHABLE, EREDIS_UNREACHABLE or EADMIN_UNREACHABLE.',
  },
  ECONNRESET: {
    from: 'kernel (TCP reset)',
    handling: 'The peer reset the connection; an HBONE dial reset right after TLS is reported as ERR_TLS_PEER_REJECTED, with the reset as its cause.',
  },
  EPIPE: {
    from: 'kernel (write to a closed pipe)',
    handling: "The CLI's reader closed standard output early (`ambit ... | head`): the command ends quietly with its exit status.",
  },
  EHOSTUNREACH: { from: 'kernel (connect)', handling: 'No route to the host: retried on another endpoint, reported as EHBONE_PEER_UNREACHABLE.' },
  ENETUNREACH: { from: 'kernel (connect)', handling: 'No route to the network: reported as EHBONE_PEER_UNREACHABLE.' },
  EHOSTDOWN: { from: 'kernel (connect)', handling: 'The host is down: reported as EHBONE_PEER_UNREACHABLE.' },
  EADDRNOTAVAIL: {
    from: 'kernel (connect, bind)',
    handling: 'From connect, reported as EHBONE_PEER_UNREACHABLE; on a host without IPv6, ambitd skips its "::" outbound listener.',
  },
  ETIMEDOUT: {
    from: 'kernel (connect); also set by the HBONE server when an upstream connect exceeds its deadline',
    handling: 'Retried on another endpoint; the HBONE server answers 503 (EHBONE_UPSTREAM_UNAVAILABLE).',
  },
  ENOTFOUND: { from: 'getaddrinfo (dns.lookup)', handling: 'The name does not resolve: retried on another endpoint by ambitd outbound.' },
  EAI_AGAIN: { from: 'getaddrinfo (dns.lookup)', handling: 'Temporary DNS failure: retried on another endpoint by ambitd outbound.' },
  ENOENT: {
    from: 'kernel (files; SO_ORIGINAL_DST, sock_diag and conntrack via native/)',
    handling:
      'A missing file is reported by the caller; from the addon it means "no such entry": the connection was not redirected, or no socket has that tuple.',
  },
  EEXIST: { from: 'kernel (open with O_EXCL)', handling: 'Reported as EIDENTITY_FILE_EXISTS.' },
  EBADF: {
    from: 'getsockopt via native/original_dst.cc; also thrown by core/net/original-dst.ts for a socket without a descriptor',
    handling: 'The captured socket closed before its original destination was read: the connection is dropped.',
  },
  ENOTCONN: {
    from: 'getsockopt via native/original_dst.cc; also thrown by core/net/original-dst.ts for an unconnected socket',
    handling: 'The captured socket is not connected any more: the connection is dropped.',
  },
  ENOTSOCK: { from: 'getsockopt via native/original_dst.cc', handling: 'Reported with the original-destination failure; a bug if it happens.' },
  ENOPROTOOPT: {
    from: 'getsockopt via native/original_dst.cc',
    handling: 'The kernel has no SO_ORIGINAL_DST for that family (nf_conntrack not loaded): the connection is dropped.',
  },
  EINVAL: { from: 'getsockopt via native/original_dst.cc', handling: 'Reported with the original-destination failure.' },
  EFAULT: { from: 'getsockopt via native/original_dst.cc', handling: 'Reported with the original-destination failure; a bug if it happens.' },
  EAFNOSUPPORT: {
    from: 'getsockopt via native/original_dst.cc',
    handling: 'Reported with the original-destination failure (an address family capture does not handle).',
  },
  ERR_HTTP2_STREAM_ERROR: {
    from: 'node:http2',
    handling: 'A stream reset by the peer: mapped from its RST_STREAM code to EHBONE_CONNECT_ERROR or EHBONE_STREAM_RESET.',
  },
  ERR_SSL: { from: 'node:tls (OpenSSL, every ERR_SSL_* code)', handling: 'Mapped to EHBONE_TLS, with the original in its tlsCode.' },
} as const satisfies Record<string, PassedThroughInfo>;

export type PassedThroughCode = keyof typeof PASSED_THROUGH;

/** Any code an AmbitError may carry. */
export type ErrorCode = AmbitErrorCode | PassedThroughCode;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code) || Object.hasOwn(PASSED_THROUGH, code);
}
