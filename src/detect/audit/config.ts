import { Type } from 'typebox'
import { PRIORITIES } from '../../model/severity.js'
import { DEFAULT_BENIGN_PRINCIPALS, DEFAULT_DEPLOYERS } from './principals.js'
import { DEFAULT_ADDON_IMAGES, DEFAULT_SENSITIVE_HOST_PATHS } from './rules.js'
import { DEFAULT_PRIVILEGED_USERS } from './privileged.js'
import { threatIntelSchema } from '../threat-intel/config.js'

export const auditDetectionSchema = Type.Object(
  {
    detections: Type.Record(
      Type.String(),
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          priority: Type.Optional(Type.Enum(PRIORITIES)),
          allowUsers: Type.Optional(Type.Array(Type.String(), { description: 'Regular expressions on the username or IAM ARN that this detection ignores.' })),
          allowNamespaces: Type.Optional(Type.Array(Type.String())),
        },
        { additionalProperties: false },
      ),
      { default: {}, description: 'Per detection id (see docs/detections.md): disable, re-prioritise, or allow-list users and namespaces.' },
    ),
    benignPrincipals: Type.Array(Type.String(), { default: DEFAULT_BENIGN_PRINCIPALS, description: "Regular expressions on usernames of EKS's own principals and controllers: their changes are not findings." }),
    deployers: Type.Array(Type.String(), {
      default: DEFAULT_DEPLOYERS,
      description:
        "Regular expressions on usernames of GitOps controllers (Argo CD, Flux) that apply a reviewed repository: their RBAC changes, services and system-namespace service accounts are not findings, and their add-on workloads are judged like a controller's. Everything else they do is (a miner, an admin binding to a default service account, credentials in a ConfigMap). [] judges them like people.",
    }),
    allowedRegistries: Type.Array(Type.String(), { default: [], description: 'Registries images may come from (e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com, *.amazonaws.com); empty turns the untrusted-registry detection off.' }),
    sensitiveHostPaths: Type.Array(Type.String(), { default: DEFAULT_SENSITIVE_HOST_PATHS }),
    systemNamespaces: Type.Array(Type.String(), {
      default: ['kube-system', 'amazon-guardduty', 'amazon-cloudwatch', 'aws-observability', 'amazon-network-flow-monitor'],
      description: "Where EKS add-ons and the cluster's own identities live: a service account created here by a person is a finding, and another account's IAM role on one here is HIGH.",
    }),
    addonImages: Type.Array(Type.String(), {
      default: DEFAULT_ADDON_IMAGES,
      description:
        "Where add-on images come from: a registry host (*.amazonaws.com matches subdomains) or a repository prefix (docker.io/falcosecurity/). A controller's privileged or host-mounting pods in system namespaces, and a DaemonSet's anywhere, are findings only with an image from elsewhere; a person's always are.",
    }),
    trustedAccounts: Type.Array(Type.String({ pattern: '^\\d{12}$' }), {
      default: [],
      description: "AWS accounts whose IAM roles service accounts may use (eks.amazonaws.com/role-arn) besides the cluster's own (aws.accountId, the account of cluster.arn, those of the nodes' IAM roles) and the caller's; any other is a cross-account finding.",
    }),
    privilegedUsers: Type.Array(Type.String(), { default: DEFAULT_PRIVILEGED_USERS, description: 'Regular expressions on usernames that are privileged: impersonating one is a finding (system:masters members and cluster-admin subjects seen in bindings always are).' }),
    workloadSecretRefusals: Type.Integer({ minimum: 1, default: 3, description: 'Refused reads of Secrets by one service account token (a workload identity) within workloadSecretWindowSecs that make a finding.' }),
    workloadSecretWindowSecs: Type.Integer({ minimum: 10, default: 600 }),
    threatIntel: { ...threatIntelSchema, description: 'IP lists (Tor exits, known-bad and organisation block lists): calls to the API server from a listed address are findings; Falco events with a listed fd.rip / fd.sip are marked.' },
    spikeWindowSecs: Type.Integer({ minimum: 10, default: 60 }),
    spikeMinCount: Type.Integer({ minimum: 1, default: 20, description: '401/403 in one window before it can be a spike.' }),
    spikeFactor: Type.Number({ minimum: 1, default: 3, description: 'Times the learned per-window baseline that makes a spike.' }),
    anonymousBurst: Type.Integer({ minimum: 1, default: 10 }),
    forbiddenSecretsBurst: Type.Integer({ minimum: 1, default: 5 }),
    firstSeenLearningDays: Type.Number({ minimum: 0, default: 7, description: 'First-seen detections stay quiet while they learn.' }),
  },
  { default: {} },
)
