/**
 * metadata as Kubernetes writes it. Besides what users write (name,
 * namespace, labels, annotations) the fields the store sets are accepted, so
 * the output of `ambit get -o yaml` applies again unchanged.
 */
import { DEFAULT_NAMESPACE, type ResourceMetadata } from './resource.js';
import { int, object, record, refine, req, string, transform, type Schema } from './schema.js';
import { dnsLabelProblem } from './kinds/common.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function nameProblem(name: string): string | undefined {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a valid name (lower-case letters, digits, "-" and ".", at most 253)`;
}

type WrittenMetadata = Omit<ResourceMetadata, 'namespace'> & { namespace?: string };

/** Validates metadata and fills in the namespace the document did not give. */
export function metadataSchema(defaultNamespace: string = DEFAULT_NAMESPACE): Schema<ResourceMetadata> {
  const written = object<WrittenMetadata>(
    {
      name: req(refine(string(), nameProblem)),
      namespace: refine(string(), dnsLabelProblem),
      labels: record(string()),
      annotations: record(string()),
      resourceVersion: string(),
      generation: int({ min: 0 }),
      creationTimestamp: string(),
      uid: string(),
    },
    { unsupported: { generateName: 'give every resource a name' } },
  );
  return transform(written, (m) => ({ ...m, namespace: m.namespace ?? defaultNamespace }));
}
