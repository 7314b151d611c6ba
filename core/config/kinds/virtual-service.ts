/**
 * VirtualService (networking.istio.io): L7 and L4 routing for mesh traffic.
 * ambit serves the `mesh` gateway only; TLS routing and CORS are rejected.
 */
import { Codes, array, bool, enumOf, int, object, oneOf, port, record, refine, req, string, transform, type Schema, type Shape } from '../schema.js';
import {
  destination,
  duration,
  exportTo,
  headers,
  host,
  ipOrCidr,
  labels,
  percent,
  stringMatch,
  type Destination,
  type Headers,
  type Labels,
  type Percent,
  type StringMatch,
} from './common.js';
import { weightedRoutes, type Weighted } from './routes.js';

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** An empty StringMatch means "header present". */
  headers?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Labels;
  sourceNamespace?: string;
  ignoreUriCase?: boolean;
}

export interface HTTPRouteDestination {
  destination: Destination;
  /** 0-100; always set in the typed form. */
  weight: number;
  headers?: Headers;
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  scheme?: string;
  redirectCode?: number;
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string: string };
}

export interface HTTPRetry {
  attempts?: number;
  /** Milliseconds. */
  perTryTimeout?: number;
  /** The comma list split into its conditions (names and numeric status codes). */
  retryOn?: string[];
  retryRemoteLocalities?: boolean;
}

/**
 * Fault percentages in the typed form are always set: `percentage`, else the
 * deprecated integer `percent`, else 0, which is how Istio translates them.
 */
export interface HTTPFaultDelay {
  /** Milliseconds. */
  fixedDelay: number;
  percentage: Percent;
}
export interface HTTPFaultAbort {
  httpStatus: number;
  percentage: Percent;
}
export interface HTTPFaultInjection {
  delay?: HTTPFaultDelay;
  abort?: HTTPFaultAbort;
}

export interface HTTPMirrorPolicy {
  destination: Destination;
  percentage?: Percent;
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  rewrite?: HTTPRewrite;
  /** Milliseconds; 0 disables the timeout. */
  timeout?: number;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  mirrors?: HTTPMirrorPolicy[];
  headers?: Headers;
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Labels;
  sourceNamespace?: string;
}

export interface RouteDestination {
  destination: Destination;
  weight: number;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface VirtualServiceSpec {
  /** Fully qualified in the typed form. */
  hosts: string[];
  gateways?: 'mesh'[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}

const GATEWAYS_ONLY = 'ambit routes mesh traffic only; ingress gateways are not supported';

const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

const retryOn = (): Schema<string[]> =>
  transform(string(), (text, at) => {
    const conditions = text.split(',').map((c) => c.trim());
    const bad = conditions.filter((c) => !RETRY_ON.has(c) && !/^[1-5]\d\d$/.test(c));
    if (bad.length === 0) return conditions;
    return at.fail(
      Codes.value,
      `unknown retry condition ${bad.map((b) => JSON.stringify(b)).join(', ')} (known: ${[...RETRY_ON].join(', ')}, or an HTTP status code)`,
    );
  });

const matchMap = () => record(stringMatch({ presence: true }));

const httpMatch = (): Schema<HTTPMatchRequest> =>
  object<HTTPMatchRequest>(
    {
      name: string(),
      uri: stringMatch(),
      scheme: stringMatch(),
      method: stringMatch(),
      authority: stringMatch(),
      headers: matchMap(),
      queryParams: matchMap(),
      withoutHeaders: matchMap(),
      port: port(),
      sourceLabels: labels(),
      sourceNamespace: string(),
      ignoreUriCase: bool(),
    },
    { unsupported: { gateways: GATEWAYS_ONLY, statPrefix: 'per-route stats prefixes are not implemented' } },
  );

const httpRouteDestination = (): Schema<Weighted<HTTPRouteDestination>> =>
  object<Weighted<HTTPRouteDestination>>({ destination: req(destination()), weight: int({ min: 0, max: 100 }), headers: headers() });

const REDIRECT_CODES = [301, 302, 303, 307, 308];
const redirect = (): Schema<HTTPRedirect> =>
  object<HTTPRedirect>(
    {
      uri: string(),
      authority: string(),
      port: port(),
      scheme: string(),
      redirectCode: refine(int(), (c) => (REDIRECT_CODES.includes(c) ? undefined : `must be one of ${REDIRECT_CODES.join(', ')}, not ${c}`)),
    },
    { unsupported: { derivePort: 'set port explicitly' } },
  );

const rewrite = (): Schema<HTTPRewrite> =>
  object<HTTPRewrite>({ uri: string(), authority: string() }, { unsupported: { uriRegexRewrite: 'use a prefix rewrite (uri)' } });

const directResponse = (): Schema<HTTPDirectResponse> =>
  object<HTTPDirectResponse>({
    status: req(int({ min: 200, max: 599 })),
    body: object<{ string: string }>({ string: req(string()) }, { unsupported: { bytes: 'use body.string' } }),
  });

const retries = (): Schema<HTTPRetry> =>
  object<HTTPRetry>(
    { attempts: int({ min: 0 }), perTryTimeout: duration({ minMs: 1 }), retryOn: retryOn(), retryRemoteLocalities: bool() },
    { unsupported: { retryIgnorePreviousHosts: 'not implemented', backoff: 'the retry backoff is fixed' } },
  );

/** A fault's own fields plus the two ways Istio writes its percentage. */
type FaultIn<T> = Omit<T, 'percentage'> & { percentage?: Percent; percent?: number };

function fault<T extends { percentage: Percent }>(own: Omit<Shape<T>, 'percentage'>, rejected: Record<string, string>): Schema<T> {
  // The generic spread hides from TS that this is exactly Shape<FaultIn<T>>.
  const shape = { ...own, percentage: percent(), percent: int({ min: 0, max: 100 }) } as unknown as Shape<FaultIn<T>>;
  return transform(
    object<FaultIn<T>>(shape, { unsupported: rejected }),
    ({ percent: pct, percentage, ...rest }) => ({ ...rest, percentage: percentage ?? { value: pct ?? 0 } }) as unknown as T,
  );
}

const faultInjection = (): Schema<HTTPFaultInjection> =>
  object<HTTPFaultInjection>({
    delay: fault<HTTPFaultDelay>({ fixedDelay: req(duration()) }, { exponentialDelay: 'only fixedDelay is implemented' }),
    abort: fault<HTTPFaultAbort>(
      { httpStatus: req(int({ min: 200, max: 599 })) },
      { grpcStatus: 'only httpStatus is implemented', http2Error: 'only httpStatus is implemented' },
    ),
  });

const mirrorPolicy = (): Schema<HTTPMirrorPolicy> => object<HTTPMirrorPolicy>({ destination: req(destination()), percentage: percent() });

const httpRoute = (): Schema<HTTPRoute> =>
  object<HTTPRoute>(
    {
      name: string(),
      match: array(httpMatch()),
      route: weightedRoutes(httpRouteDestination()),
      redirect: redirect(),
      directResponse: directResponse(),
      rewrite: rewrite(),
      timeout: duration(),
      retries: retries(),
      fault: faultInjection(),
      mirror: destination(),
      mirrorPercentage: percent(),
      mirrors: array(mirrorPolicy()),
      headers: headers(),
    },
    {
      check: (r, at) => {
        oneOf<HTTPRoute>(['route', 'redirect', 'directResponse'])(r, at);
        if (r.rewrite && r.redirect) at.fail(Codes.value, 'rewrite cannot be combined with redirect');
      },
      unsupported: {
        corsPolicy: 'CORS policies are not implemented',
        delegate: 'VirtualService delegation is not implemented',
        mirror_percent: 'use mirrorPercentage',
        mirrorPercent: 'use mirrorPercentage',
      },
    },
  );

const l4Match = (): Schema<L4MatchAttributes> =>
  object<L4MatchAttributes>(
    { destinationSubnets: array(ipOrCidr()), port: port(), sourceLabels: labels(), sourceNamespace: string() },
    { unsupported: { gateways: GATEWAYS_ONLY } },
  );

const tcpRoute = (): Schema<TCPRoute> =>
  object<TCPRoute>({
    match: array(l4Match()),
    route: weightedRoutes(object<Weighted<RouteDestination>>({ destination: req(destination()), weight: int({ min: 0, max: 100 }) })),
  });

export const virtualServiceSpec = (): Schema<VirtualServiceSpec> =>
  object<VirtualServiceSpec>(
    {
      hosts: req(array(host(), { min: 1 })),
      gateways: array(enumOf(['mesh'])),
      http: array(httpRoute()),
      tcp: array(tcpRoute()),
      exportTo: exportTo(),
    },
    { unsupported: { tls: 'TLS (SNI) routing is not implemented; route the traffic with tcp' } },
  );
