import { Type, type Static } from 'typebox'

export const THREAT_KINDS = ['tor', 'malicious', 'custom'] as const
export type ThreatKind = (typeof THREAT_KINDS)[number]

export const threatListSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'Named in findings (e.g. tor-exit, org-blocklist).' }),
    kind: Type.Optional(Type.Enum(THREAT_KINDS, { description: "GuardDuty's family: tor (TorIPCaller), malicious (MaliciousIPCaller), custom (MaliciousIPCaller.Custom). Default: tor when the name starts with tor, else custom." })),
    files: Type.Array(Type.String(), { default: [], description: 'Files of addresses and CIDR blocks (IPv4, IPv6), one a line; # and ; start comments. Re-read when they change.' }),
    urls: Type.Array(Type.String({ pattern: '^https?://' }), { default: [], description: 'HTTPS URLs of the same format, fetched every refreshSecs with ETag / If-Modified-Since; the last good copy is kept when a fetch fails. Plain http only to loopback.' }),
    refreshSecs: Type.Integer({ minimum: 60, default: 3600 }),
    maxBytes: Type.Integer({ minimum: 1024, default: 16_777_216, description: 'A fetched or read list larger than this is refused (the last good one stays).' }),
  },
  { additionalProperties: false },
)
export type ThreatListConfig = Static<typeof threatListSchema>

export const threatIntelSchema = Type.Object(
  {
    lists: Type.Array(threatListSchema, { default: [], description: 'IP lists: a request to the API server from a listed address is a finding (TorIPCaller / MaliciousIPCaller), and Falco events whose fd.rip / fd.sip is listed are marked and raised.' }),
    fileCheckSecs: Type.Number({ exclusiveMinimum: 0, default: 5, description: 'How often list files are looked at for changes.' }),
  },
  { default: {} },
)
export type ThreatIntelConfig = Static<typeof threatIntelSchema>

export function kindOf(list: ThreatListConfig): ThreatKind {
  return list.kind ?? (list.name.startsWith('tor') ? 'tor' : 'custom')
}
