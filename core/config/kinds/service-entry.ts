/**
 * ServiceEntry (networking.istio.io): adds a service to the mesh registry, an
 * external one or one made of WorkloadEntries. Hosts are kept as written, as
 * Istio does for ServiceEntry.
 */
import { Codes, array, enumOf, object, port, req, string, transform, type Schema } from '../schema.js';
import { exportTo, ipOrCidr, labels, literalHost, type Labels } from './common.js';
import { workloadEntrySpec, type WorkloadEntrySpec } from './workload-entry.js';

export type Protocol = 'HTTP' | 'HTTPS' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'MYSQL' | 'REDIS';
const PROTOCOLS: readonly Protocol[] = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'MYSQL', 'REDIS'];

export interface ServicePort {
  number: number;
  /** Upper case in the typed form (Istio matches protocols case-insensitively). */
  protocol?: Protocol;
  name?: string;
  targetPort?: number;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS';
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Labels };
  exportTo?: string[];
}

const protocol = (): Schema<Protocol> =>
  transform(string(), (p, at) => {
    const upper = p.toUpperCase();
    if ((PROTOCOLS as readonly string[]).includes(upper)) return upper as Protocol;
    if (upper === 'UDP') return at.fail(Codes.unsupported, 'protocol UDP is not supported by ambit');
    return at.fail(Codes.value, `must be one of ${PROTOCOLS.join(', ')}, not ${JSON.stringify(p)}`);
  });

const servicePort = (): Schema<ServicePort> => object<ServicePort>({ number: req(port()), protocol: protocol(), name: string(), targetPort: port() });

export const serviceEntrySpec = (): Schema<ServiceEntrySpec> =>
  object<ServiceEntrySpec>(
    {
      hosts: req(array(literalHost(), { min: 1 })),
      addresses: array(ipOrCidr()),
      ports: array(servicePort()),
      location: enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL']),
      resolution: enumOf(['NONE', 'STATIC', 'DNS'], ['DNS_ROUND_ROBIN']),
      endpoints: array(workloadEntrySpec()),
      workloadSelector: object<{ labels?: Labels }>({ labels: labels() }),
      exportTo: exportTo(),
    },
    {
      check: (se, at) => {
        if (se.endpoints && se.workloadSelector) at.fail(Codes.value, 'only one of endpoints, workloadSelector may be set');
      },
      unsupported: { subjectAltNames: 'identities of mesh workloads come from their enrollment' },
    },
  );
