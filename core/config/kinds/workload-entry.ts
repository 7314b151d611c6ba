/**
 * WorkloadEntry (networking.istio.io): a workload outside any orchestrator,
 * which on ambit's plain hosts is the normal case. The same shape is a
 * ServiceEntry endpoint.
 */
import { int, object, port, record, string, type Schema } from '../schema.js';
import { address, labels, type Labels } from './common.js';

export interface WorkloadEntrySpec {
  /** An IP address or a DNS name (also `unix://` paths in Istio, which ambit does not accept). */
  address?: string;
  /** Port name -> the port this workload listens on for it. */
  ports?: Record<string, number>;
  labels?: Labels;
  serviceAccount?: string;
  weight?: number;
  network?: string;
  locality?: string;
}

export const workloadEntrySpec = (): Schema<WorkloadEntrySpec> =>
  object<WorkloadEntrySpec>({
    address: address(),
    ports: record(port()),
    labels: labels(),
    serviceAccount: string(),
    weight: int({ min: 0 }),
    network: string(),
    locality: string(),
  });
