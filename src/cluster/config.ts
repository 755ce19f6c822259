import { Type, type Static } from 'typebox'

/**
 * The shared store of a scaled-out falconet (docs/scale-out.md): a Valkey (or Redis OSS 7+) server,
 * e.g. Amazon ElastiCache for Valkey. Without `url` falconet is the single process it always was.
 */
export const storeSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        pattern: '^(redis|rediss|valkey|valkeys)://',
        description: 'The shared store: redis://host:6379/0, or rediss:// for TLS (ElastiCache in-transit encryption). Set it on every replica to run several (env FALCONET_STORE_URL). Never put a password here: use authTokenFile / authTokenEnv.',
      }),
    ),
    username: Type.Optional(Type.String({ description: 'ACL user (ElastiCache RBAC); the AUTH token alone uses the default user.' })),
    authTokenFile: Type.Optional(Type.String({ description: 'File holding the AUTH token (a mounted Secret).' })),
    authTokenEnv: Type.Optional(Type.String({ description: 'Environment variable holding the AUTH token.' })),
    tls: Type.Object(
      {
        caFile: Type.Optional(Type.String({ description: 'PEM CA bundle to verify the store (default: the system roots, as for ElastiCache).' })),
        serverName: Type.Optional(Type.String({ description: 'TLS server name when it differs from the URL host.' })),
      },
      { default: {}, additionalProperties: false },
    ),
    keyPrefix: Type.String({
      pattern: '^[a-zA-Z0-9_.:-]{1,64}$',
      default: 'falconet',
      description: 'Prefix of every key (one store can serve several falconet installations). Keys carry one hash tag, so a cluster-mode endpoint keeps them in one slot.',
    }),
    replicaId: Type.Optional(
      Type.String({
        pattern: '^[a-zA-Z0-9_.-]{1,128}$',
        description: 'Stable name of this replica. Default: an id created once and kept in the data dir (what makes a replay after a crash idempotent, so keep the data dir with the replica).',
      }),
    ),
    shipIntervalMs: Type.Integer({ minimum: 10, default: 200, description: 'How often occurrences spooled locally are merged into the store, in one batch.' }),
    shipMaxItems: Type.Integer({ minimum: 1, default: 2000, description: 'Most spooled changes merged in one store round trip.' }),
    leaseSecs: Type.Integer({
      minimum: 5,
      default: 15,
      description: "Leadership leases (each sink's delivery, the audit poller, the silent-source check) last this long and are renewed at a third of it: a dead leader is replaced within this time.",
    }),
    commandTimeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'A store command not answered in this time fails (and is retried with backoff).' }),
  },
  { default: {}, additionalProperties: false, description: 'Several replicas share aggregates, delivery, rate limits, silences and leadership through this store.' },
)

export type StoreConfig = Static<typeof storeSchema>
