import { Type } from 'typebox'

export const enrichmentSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Enrich events from the Kubernetes API (pods, nodes, namespaces, service accounts: get/list/watch).' }),
    mode: Type.Enum(['cluster', 'node'], {
      default: 'cluster',
      description: '`cluster`: all pods and nodes (a Deployment). `node`: only pods on nodeName (a sidecar next to Falco or Fluent Bit).',
    }),
    nodeName: Type.Optional(Type.String({ minLength: 1, description: 'This node, in node mode (env FALCONET_NODE_NAME, from the downward API spec.nodeName).' })),
    kubeconfig: Type.Optional(Type.String({ description: 'A kubeconfig file for local runs; in a pod the in-cluster service account is used.' })),
    deletedPodGraceSecs: Type.Integer({ minimum: 0, default: 120, description: 'How long a deleted pod stays findable: alerts about short-lived pods arrive after they are gone.' }),
    syncTimeoutSecs: Type.Integer({ minimum: 1, default: 30, description: 'Readiness waits this long for the first sync; then falconet runs un-enriched until it syncs (logged, and falconet_enrich_synced is 0).' }),
    podAnnotations: Type.Array(Type.String(), { default: [], description: 'Pod annotation keys to copy into findings (labels are always copied).' }),
    podIdentity: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'Resolve EKS Pod Identity roles with eks:ListPodIdentityAssociations / DescribePodIdentityAssociation (needs cluster.name).' }),
        cacheSecs: Type.Integer({ minimum: 10, default: 600 }),
      },
      { default: {} },
    ),
  },
  { default: {} },
)
