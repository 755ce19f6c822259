import { Type } from 'typebox'

export const k8sAuditSchema = Type.Object(
  {
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 33_554_432, description: 'Largest body on POST /k8s-audit (also after decompression).' }),
  },
  { default: {} },
)

export const eksAuditSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'Poll the EKS audit log from CloudWatch Logs. Enable it in exactly one replica (the Helm chart runs a separate single-replica Deployment for it).',
    }),
    logGroupName: Type.Optional(Type.String({ description: 'Default /aws/eks/<cluster.name>/cluster.' })),
    streamPrefix: Type.String({ default: 'kube-apiserver-audit-' }),
    pollIntervalSecs: Type.Integer({ minimum: 1, default: 10 }),
    requestsPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 5, default: 5, description: 'FilterLogEvents calls per second: the account-wide quota is 5.' }),
    backfillMinutes: Type.Integer({ minimum: 0, default: 15, description: 'What the first start reads back.' }),
    lookbackSecs: Type.Integer({
      minimum: 0,
      default: 300,
      description: 'Each query re-reads this much before the checkpoint, for events CloudWatch indexed late (EKS delivery is usually seconds, sometimes minutes; falconet_eks_audit_lateness_seconds shows it). Re-reads are skipped by event id; their cost is falconet_eks_audit_reread_total.',
    }),
    settleSecs: Type.Integer({ minimum: 0, default: 15, description: 'Each query stops this long before now.' }),
  },
  { default: {} },
)
