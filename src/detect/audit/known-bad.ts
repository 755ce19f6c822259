/**
 * Known-bad workloads that need no allow-list: cryptominers. Matched on the image's repository
 * path (not the registry, so a mirror does not hide it) and on the command line (a pool URL or a
 * miner's own flags), because miners also ship as `alpine` + a downloaded binary.
 */
const MINER_IMAGE = /(^|[/_.-])(xmrig|xmr-stak|xmrstak|cpuminer(-multi|-opt)?|minerd|cgminer|bfgminer|ethminer|nbminer|t-rex|lolminer|phoenixminer|nanominer|teamredminer|gminer|srbminer(-multi)?|nheqminer|ccminer|kdevtmpfsi|kinsing|moneroocean|monero-miner|xmr-miner|coinhive|nicehash(miner)?)([/_.:@-]|$)/i
const MINER_ARGS = [
  /\bstratum\d?\+(tcp|ssl|tls|ws|wss):\/\//i,
  /--donate-level\b/i,
  /\b(xmrig|xmr-stak|cpuminer|minerd|cgminer|bfgminer|ethminer|nbminer|lolminer|t-rex|srbminer|nanominer|teamredminer|kdevtmpfsi|kinsing)\b/i,
  /\b(pool\.)?(minexmr|supportxmr|moneroocean|nanopool|hashvault|c3pool|2miners|f2pool|herominers|unmineable|xmrpool|nicehash|ethermine|miningpoolhub)\.(com|net|org|stream|pro|eu|io)\b/i,
  /--(algo|coin)[= ](rx\/0|randomx|cn\/r|cryptonight|ethash|kawpow|monero|xmr)\b/i,
]

/** The repository path of an image reference, without registry, tag or digest. */
function repositoryOf(image: string): string {
  const noDigest = image.split('@')[0]!
  const parts = noDigest.split('/')
  const first = parts[0]!
  const path = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost') ? parts.slice(1) : parts
  const last = path[path.length - 1]!.replace(/:[^:]*$/, '')
  return [...path.slice(0, -1), last].join('/')
}

/** Why a container looks like a cryptominer, or undefined. */
export function minerEvidence(container: { image?: unknown; command?: unknown; args?: unknown; env?: unknown }): string | undefined {
  const image = typeof container.image === 'string' ? container.image : ''
  if (image && MINER_IMAGE.test(repositoryOf(image))) return `image ${image}`
  const words = [container.command, container.args].flatMap((v) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []))
  const env = Array.isArray(container.env) ? container.env.map((e: unknown) => (typeof (e as { value?: unknown })?.value === 'string' ? (e as { value: string }).value : '')).filter(Boolean) : []
  const line = [...words, ...env].join(' ').slice(0, 16_384)
  const hit = MINER_ARGS.find((re) => re.test(line))
  return hit ? `command line "${line.slice(0, 200)}"` : undefined
}
