import { Type, type Static } from 'typebox'
import type { Provenance } from '../../model/event.js'
import { isRecord } from './decode.js'

/**
 * Who may speak for Falco through Fluent Bit. A Falco alert is only text in a log line: any pod can
 * print one. What a workload cannot choose is where its log lines are read from — the file kubelet
 * names `<pod>_<namespace>_<container>-<id>.log`, which the shipped config's Falco input turns into
 * the chunk's tag (sent as a header, outside every record) — nor the metadata Fluent Bit's
 * kubernetes filter adds from the API server (namespace, pod, container, labels). An alert is
 * trusted only when that says it was written by the configured Falco workload.
 */
export const falcoSenderSchema = Type.Object(
  {
    namespaces: Type.Array(Type.String(), { default: ['falco'], description: "Namespaces Falco runs in (the Falco chart's default: falco)." }),
    containers: Type.Array(Type.String(), { default: ['falco'], description: "Falco's container names in its pods." }),
    labels: Type.Record(Type.String(), Type.String(), {
      default: { 'app.kubernetes.io/name': 'falco' },
      description: "Pod labels Falco's pods carry; checked whenever the record has the kubernetes filter's labels (Labels On; without them namespace and container decide).",
    }),
    tagHeader: Type.String({ default: 'x-fluent-tag', description: "The header Fluent Bit's http output puts the chunk's tag in (its header_tag option); a tag naming a container log file is checked like metadata." }),
    allowWithoutMetadata: Type.Boolean({
      default: false,
      description: 'Accept Falco alerts from records with neither kubernetes metadata nor a log-file tag (a Fluent Bit reading Falco outside Kubernetes). Off: they are refused and counted.',
    }),
  },
  { default: {}, description: 'The Falco workload whose log lines may carry Falco alerts; an alert from any other pod is refused and raises a finding of its own.' },
)
export type FalcoSenderConfig = Static<typeof falcoSenderSchema>

/** The pod a record was read from, as Fluent Bit (not the record's author) describes it. */
export interface Sender {
  namespace?: string
  pod?: string
  container?: string
  node?: string
  labels?: Record<string, string>
}

export type SenderCheck = { trusted: true; provenance: Provenance } | { trusted: false; reason: string; sender: Sender; provenance: Provenance }

// kubelet's name for a container log: /var/log/containers/<pod>_<namespace>_<container>-<64 hex>.log.
// Namespace and container are DNS labels (no `_`, no `.`), a pod name has no `_`: the split is unambiguous.
const LOG_FILE = /([^/_]+)_([a-z0-9-]{1,63})_([a-z0-9-]{1,63})-([0-9a-f]{64})\.log$/

/**
 * The pod named by a tail tag (`falco.var.log.containers.<file>`: the path with `/` turned to `.`)
 * or a path. The pod name may hold dots, so the file name starts after the `containers` directory.
 */
export function senderFromLogFile(tagOrPath: string): Sender | undefined {
  if (tagOrPath.length > 1024) return undefined
  const slash = tagOrPath.lastIndexOf('/')
  const dotted = tagOrPath.indexOf('var.log.containers.')
  const file = slash >= 0 ? tagOrPath.slice(slash + 1) : dotted >= 0 ? tagOrPath.slice(dotted + 'var.log.containers.'.length) : tagOrPath
  const m = LOG_FILE.exec(file)
  if (!m || m.index !== 0) return undefined
  return { pod: m[1]!, namespace: m[2]!, container: m[3]! }
}

/** The kubernetes filter's map (or GELF's rebuilt one). */
export function senderFromMetadata(record: Record<string, unknown>): Sender | undefined {
  const k8s = record.kubernetes
  if (!isRecord(k8s)) return undefined
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const sender: Sender = {}
  const set = (key: keyof Omit<Sender, 'labels'>, v: unknown) => {
    const t = text(v)
    if (t) sender[key] = t
  }
  set('namespace', k8s.namespace_name)
  set('pod', k8s.pod_name)
  set('container', k8s.container_name)
  set('node', k8s.host)
  if (isRecord(k8s.labels)) {
    sender.labels = {}
    for (const [k, v] of Object.entries(k8s.labels)) if (typeof v === 'string') sender.labels[k] = v
  }
  return sender.namespace || sender.container ? sender : undefined
}

/**
 * The check. The tag, when it names a log file, is the stronger witness (a workload's JSON merged
 * into the record could carry a `kubernetes` key of its own when the filter found no metadata), so
 * metadata that contradicts it is refused; labels are checked wherever the record has them.
 */
export function checkFalcoSender(record: Record<string, unknown>, tag: string | undefined, config: FalcoSenderConfig): SenderCheck {
  const fromFile = tag ? senderFromLogFile(tag) : undefined
  const fromMeta = senderFromMetadata(record)
  const sender: Sender = { ...fromFile, ...fromMeta }
  const provenance = (verifiedBy: Provenance['verifiedBy']): Provenance => {
    const p: Provenance = { via: 'fluent-bit' }
    for (const key of ['node', 'namespace', 'pod', 'container'] as const) if (sender[key]) p[key] = sender[key]
    if (verifiedBy) p.verifiedBy = verifiedBy
    return p
  }
  const refuse = (reason: string): SenderCheck => ({ trusted: false, reason, sender, provenance: provenance(undefined) })

  if (!fromFile && !fromMeta) {
    if (config.allowWithoutMetadata) return { trusted: true, provenance: provenance('unverified') }
    return refuse('the record has no kubernetes metadata and its tag names no container log file (sources.fluentBit.falcoSender.allowWithoutMetadata is off)')
  }
  if (fromFile && fromMeta) {
    for (const key of ['namespace', 'pod', 'container'] as const) {
      if (fromMeta[key] !== undefined && fromMeta[key] !== fromFile[key]) return refuse(`the record's kubernetes.${key} ${JSON.stringify(fromMeta[key])} contradicts its log file's ${JSON.stringify(fromFile[key])}`)
    }
  }
  if (!sender.namespace || !config.namespaces.includes(sender.namespace)) return refuse(`namespace ${JSON.stringify(sender.namespace ?? null)} is not Falco's (${config.namespaces.join(', ')})`)
  if (!sender.container || !config.containers.includes(sender.container)) return refuse(`container ${JSON.stringify(sender.container ?? null)} is not Falco's (${config.containers.join(', ')})`)
  if (fromMeta) {
    // Labels are checked where the filter gives them (Labels On, the shipped config); without them
    // namespace and container decide: creating a pod in Falco's namespace is the privilege that counts.
    const wanted = Object.entries(config.labels)
    for (const [key, value] of wanted) {
      if (sender.labels && sender.labels[key] !== value) return refuse(`pod label ${key}=${JSON.stringify(sender.labels[key] ?? null)}, not ${JSON.stringify(value)}`)
    }
    return { trusted: true, provenance: provenance('kubernetes-metadata') }
  }
  return { trusted: true, provenance: provenance('log-file') }
}
