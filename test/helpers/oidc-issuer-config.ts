/**
 * The test OpenID provider's configuration, shared by the in-process issuer of
 * the integration tests (oidc-provider.ts) and the issuer process the netns
 * e2e runs on a host of its own (test/e2e/fixtures/oidc-issuer.ts), so both
 * log in the same users with the same claims.
 */
import type { Configuration } from 'oidc-provider';

export interface IssuerOptions {
  clientId: string;
  clientSecret: string;
  /** The service's origin as the browser sees it: the client's redirect and post-logout URIs are registered under it. */
  origin: string;
  /** Seconds access and ID tokens last. */
  tokenTtlS: number;
}

/** Alice is in admins, anyone else in users: AuthorizationPolicy tests tell them apart by the groups claim. */
export function testIssuerConfig(o: IssuerOptions): Configuration {
  return {
    clients: [
      {
        client_id: o.clientId,
        client_secret: o.clientSecret,
        redirect_uris: [`${o.origin}/oauth2/callback`],
        post_logout_redirect_uris: [`${o.origin}/`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    findAccount: (_ctx, id) =>
      Promise.resolve({
        accountId: id,
        claims: () => Promise.resolve({ sub: id, email: `${id}@example.test`, groups: id === 'alice' ? ['admins'] : ['users'] }),
      }),
    claims: { openid: ['sub'], email: ['email'], profile: ['groups'] },
    conformIdTokenClaims: false,
    issueRefreshToken: () => Promise.resolve(true),
    ttl: { AccessToken: o.tokenTtlS, IdToken: o.tokenTtlS, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['ambit-test-cookie-key'] },
  };
}
