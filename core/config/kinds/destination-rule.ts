/**
 * DestinationRule (networking.istio.io): what happens to traffic after routing
 * picked a host: load balancing, connection limits, outlier ejection, subsets.
 * TLS origination is the tunnel's job in ambit, so only DISABLE and
 * ISTIO_MUTUAL are accepted.
 */
import { Codes, array, bool, enumOf, int, object, oneOf, refine, req, string, type Cursor, type Schema } from '../schema.js';
import { dnsLabelProblem, duration, exportTo, host, labels, portSelector, type Labels, type PortSelector } from './common.js';

export interface HTTPCookie {
  name: string;
  path?: string;
  /** Milliseconds. */
  ttl?: number;
}

/** Exactly one key source. */
export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: HTTPCookie;
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
}

export type SimpleLB = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' | 'LEAST_CONN';

export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
}

export interface TCPSettings {
  maxConnections?: number;
  /** Milliseconds. */
  connectTimeout?: number;
}

export interface HTTPSettings {
  http1MaxPendingRequests?: number;
  http2MaxRequests?: number;
  maxRequestsPerConnection?: number;
  maxRetries?: number;
  /** Milliseconds. */
  idleTimeout?: number;
  h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  useClientProtocol?: boolean;
}

export interface ConnectionPoolSettings {
  tcp?: TCPSettings;
  http?: HTTPSettings;
}

export interface OutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  /** Milliseconds. */
  interval?: number;
  /** Milliseconds. */
  baseEjectionTime?: number;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface ClientTLSSettings {
  mode: 'DISABLE' | 'ISTIO_MUTUAL';
}

export interface PortTrafficPolicy {
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TrafficPolicy extends Omit<PortTrafficPolicy, 'port'> {
  portLevelSettings?: PortTrafficPolicy[];
}

export interface Subset {
  name: string;
  labels?: Labels;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  /** Fully qualified in the typed form. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
}

const count = () => int({ min: 0 });
const percentInt = () => int({ min: 0, max: 100 });

const loadBalancer = (): Schema<LoadBalancerSettings> =>
  object<LoadBalancerSettings>(
    {
      simple: enumOf(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH', 'LEAST_CONN'], ['UNSPECIFIED']),
      consistentHash: object<ConsistentHashLB>(
        {
          httpHeaderName: string(),
          httpCookie: object<HTTPCookie>({ name: req(string()), path: string(), ttl: duration() }, { unsupported: { attributes: 'not implemented' } }),
          useSourceIp: bool(),
          httpQueryParameterName: string(),
        },
        {
          check: oneOf<ConsistentHashLB>(['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName']),
          unsupported: { ringHash: 'the hash ring is fixed', maglev: 'the hash ring is fixed', minimumRingSize: 'the hash ring is fixed' },
        },
      ),
    },
    {
      check: oneOf<LoadBalancerSettings>(['simple', 'consistentHash'], { optional: true }),
      unsupported: {
        localityLbSetting: 'locality-aware load balancing is not implemented',
        warmupDurationSecs: 'slow start is not implemented',
        warmup: 'slow start is not implemented',
      },
    },
  );

const connectionPool = (): Schema<ConnectionPoolSettings> =>
  object<ConnectionPoolSettings>({
    tcp: object<TCPSettings>(
      { maxConnections: count(), connectTimeout: duration({ minMs: 1 }) },
      { unsupported: { tcpKeepalive: 'not implemented', maxConnectionDuration: 'not implemented', idleTimeout: 'not implemented' } },
    ),
    http: object<HTTPSettings>(
      {
        http1MaxPendingRequests: count(),
        http2MaxRequests: count(),
        maxRequestsPerConnection: count(),
        maxRetries: count(),
        idleTimeout: duration({ minMs: 1 }),
        h2UpgradePolicy: enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']),
        useClientProtocol: bool(),
      },
      { unsupported: { maxConcurrentStreams: 'not implemented' } },
    ),
  });

const outlierDetection = (): Schema<OutlierDetection> =>
  object<OutlierDetection>(
    {
      consecutive5xxErrors: count(),
      consecutiveGatewayErrors: count(),
      interval: duration({ minMs: 1 }),
      baseEjectionTime: duration({ minMs: 1 }),
      maxEjectionPercent: percentInt(),
      minHealthPercent: percentInt(),
    },
    {
      unsupported: {
        consecutiveErrors: 'use consecutive5xxErrors',
        splitExternalLocalOriginErrors: 'not implemented',
        consecutiveLocalOriginFailures: 'not implemented',
      },
    },
  );

const clientTls = (): Schema<ClientTLSSettings> =>
  object<ClientTLSSettings>(
    { mode: req(enumOf(['DISABLE', 'ISTIO_MUTUAL'], ['SIMPLE', 'MUTUAL'])) },
    {
      unsupported: Object.fromEntries(
        ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'subjectAltNames', 'sni', 'insecureSkipVerify', 'caCrl'].map((f) => [
          f,
          'TLS origination is not implemented; mesh traffic is always mutual TLS',
        ]),
      ),
    },
  );

const policyShape = () => ({
  loadBalancer: loadBalancer(),
  connectionPool: connectionPool(),
  outlierDetection: outlierDetection(),
  tls: clientTls(),
});

const TRAFFIC_POLICY_UNSUPPORTED = { tunnel: 'not implemented', proxyProtocol: 'not implemented' };

const trafficPolicy = (): Schema<TrafficPolicy> =>
  object<TrafficPolicy>(
    { ...policyShape(), portLevelSettings: array(object<PortTrafficPolicy>({ ...policyShape(), port: portSelector() })) },
    { unsupported: TRAFFIC_POLICY_UNSUPPORTED },
  );

function uniqueSubsetNames(subsets: Subset[], at: Cursor): void {
  const seen = new Map<string, number>();
  subsets.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first === undefined) seen.set(s.name, i);
    else
      at.at(i)
        .at('name')
        .fail(Codes.value, `duplicate subset name ${JSON.stringify(s.name)} (also subsets[${first}])`);
  });
}

export const destinationRuleSpec = (): Schema<DestinationRuleSpec> =>
  object<DestinationRuleSpec>(
    {
      host: req(host()),
      trafficPolicy: trafficPolicy(),
      subsets: array(object<Subset>({ name: req(refine(string(), dnsLabelProblem)), labels: labels(), trafficPolicy: trafficPolicy() })),
      exportTo: exportTo(),
    },
    {
      check: (dr, at) => dr.subsets && uniqueSubsetNames(dr.subsets, at.at('subsets')),
      unsupported: { workloadSelector: 'DestinationRules apply by host only' },
    },
  );
