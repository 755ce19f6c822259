// Sidecar mode (helm/values/falco-sidecar.yaml, fluent-bit-sidecar.yaml): falconet beside Falco or
// Fluent Bit on every node. The container is checked for what it must have (security context,
// probes, node-mode enrichment, a data dir on a volume), its environment is loaded by falconet's own
// config loader, and the Pod it ends up in is validated against the Kubernetes OpenAPI schema.
import { test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { loadConfig } from '../../src/config/load.js'
import { KUBERNETES_VERSIONS, kubernetesValidate } from '../support/k8s-tools.js'
import { classicSections, coalesce, read, root, values } from '../support/helm-values.js'

interface Container {
  name: string
  image: string
  restartPolicy?: string
  args?: string[]
  env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>
  ports: Array<{ name: string; containerPort: number }>
  startupProbe?: { httpGet: { path: string; port: string | number } }
  livenessProbe: { httpGet: { path: string; port: string | number } }
  readinessProbe: { httpGet: { path: string; port: string | number } }
  securityContext: Record<string, unknown>
  resources: { requests?: Record<string, string>; limits?: Record<string, string> }
  volumeMounts: Array<{ name: string; mountPath: string }>
}
interface Volume {
  name: string
  emptyDir?: unknown
  hostPath?: unknown
}

/** Each snippet's falconet container and the volumes it adds, through the chart's own extension points. */
const SIDECARS: Record<string, () => { container: Container; volumes: Volume[]; others: Container[] }> = {
  'falco-sidecar.yaml': () => {
    const v = values('falco-sidecar.yaml')
    const init = v.extra.initContainers as Container[]
    return { container: init.find((c) => c.name === 'falconet') as Container, volumes: v.mounts.volumes, others: init.filter((c) => c.name !== 'falconet') }
  },
  'fluent-bit-sidecar.yaml': () => {
    const v = values('fluent-bit-sidecar.yaml')
    const extra = v.extraContainers as Container[]
    return { container: extra.find((c) => c.name === 'falconet') as Container, volumes: v.extraVolumes, others: extra.filter((c) => c.name !== 'falconet') }
  },
}

/** The container's environment as the kubelet would give it on node ip-10-0-1-23.ec2.internal. */
function environment(c: Container): NodeJS.ProcessEnv {
  return Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName' ? 'ip-10-0-1-23.ec2.internal' : e.value]))
}

const probePort = (c: Container, port: string | number): number | undefined => (typeof port === 'number' ? port : c.ports.find((p) => p.name === port)?.containerPort)

for (const [file, load] of Object.entries(SIDECARS)) {
  test(`${file}: the falconet container is locked down, probed, and enriches from its node`, async (t) => {
    const { container: c, volumes, others } = load()
    t.ok(c, 'a container named falconet')
    t.same(others, [], 'nothing else added')
    t.same(c.args, ['serve'])
    t.match(c.image, /^[\w.-]+(:\d+)?(\/[\w.-]+)+:[\w.-]+$/, 'an image reference with a tag (a placeholder to replace)')
    t.same(c.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
    t.same(
      c.ports.map((p) => p.containerPort),
      [2801],
    )
    t.equal(c.livenessProbe.httpGet.path, '/healthz')
    t.equal(c.readinessProbe.httpGet.path, '/readyz')
    t.equal(c.startupProbe?.httpGet.path, '/healthz')
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) t.equal(probePort(c, probe?.httpGet.port ?? ''), 2801, "probes reach falconet's port")
    t.ok(c.resources.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, 'requests and a memory limit')

    const node = c.env.find((e) => e.name === 'FALCONET_NODE_NAME')
    t.same(node?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } }, 'node name from the downward API')
    const config = loadConfig({ env: environment(c) })
    t.equal(config.enrichment.enabled, true)
    t.equal(config.enrichment.mode, 'node')
    t.equal(config.enrichment.nodeName, 'ip-10-0-1-23.ec2.internal')
    t.equal(config.server.port, 2801)

    const dataMount = c.volumeMounts.find((m) => m.mountPath === config.dataDir)
    t.ok(dataMount, `the data dir ${config.dataDir} is a mount (the root filesystem is read-only)`)
    const dataVolume = volumes.find((v) => v.name === dataMount?.name)
    t.ok(dataVolume?.emptyDir !== undefined || dataVolume?.hostPath !== undefined, 'on an emptyDir or a hostPath')
    for (const m of c.volumeMounts)
      t.ok(
        volumes.some((v) => v.name === m.name),
        `volume ${m.name} is added to the pod`,
      )
  })
}

test('the two snippets run the same falconet container', async (t) => {
  const { restartPolicy, ...falco } = SIDECARS['falco-sidecar.yaml']?.().container as Container
  t.equal(restartPolicy, 'Always', 'beside Falco: a native sidecar (the Falco chart has no extraContainers)')
  t.same(falco, SIDECARS['fluent-bit-sidecar.yaml']?.().container)
  t.same(SIDECARS['falco-sidecar.yaml']?.().volumes, SIDECARS['fluent-bit-sidecar.yaml']?.().volumes)
})

test("falco-sidecar.yaml on falco.yaml: Falco posts to falconet on the pod's loopback", async (t) => {
  const merged = coalesce(values('falco.yaml'), values('falco-sidecar.yaml'))
  t.same(merged.falco.http_output, { ...values('falco.yaml').falco.http_output, url: 'http://localhost:2801/falco' }, 'only the URL changes')
  t.equal(merged.customRules['eks-syscall-rules.yaml'], read(root, 'falco-rules', 'eks-syscall-rules.yaml'), 'the rules stay')
})

test('fluent-bit-sidecar.yaml on fluent-bit.yaml: the falconet output goes to localhost, the rest of the environment is kept', async (t) => {
  const base = values('fluent-bit.yaml')
  const merged = coalesce(base, values('fluent-bit-sidecar.yaml'))
  const env = merged.env as Array<{ name: string; value?: string }>
  t.equal(env.find((e) => e.name === 'FALCONET_HOST')?.value, 'localhost')
  t.same(
    env.filter((e) => e.name !== 'FALCONET_HOST'),
    (base.env as Array<{ name: string }>).filter((e) => e.name !== 'FALCONET_HOST'),
    'every other variable as in fluent-bit.yaml',
  )
  const http = classicSections(merged.config.outputs as string).find((o) => o.name === 'http')
  t.equal(http?.host, '${FALCONET_HOST}')
  t.equal(http?.port, '2801')
})

/** A Pod as the chart would render it around the snippet: the chart's own container plus ours. */
function pods(): Record<string, unknown> {
  const falco = SIDECARS['falco-sidecar.yaml']?.()
  const fluentBit = SIDECARS['fluent-bit-sidecar.yaml']?.()
  const pod = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec })
  return {
    falco: pod('falco', { initContainers: [falco?.container], containers: [{ name: 'falco', image: 'docker.io/falcosecurity/falco:0.44.1' }], volumes: falco?.volumes }),
    'fluent-bit': pod('fluent-bit', { containers: [{ name: 'fluent-bit', image: 'cr.fluentbit.io/fluent/fluent-bit:5.1.1' }, fluentBit?.container], volumes: fluentBit?.volumes }),
  }
}

test('the sidecar Pods are valid Kubernetes objects, unknown fields included (kubernetes-validate --strict)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-sidecar-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files = Object.entries(pods()).map(([name, pod]) => {
    const file = join(dir, `${name}.yaml`)
    writeFileSync(file, stringify(pod))
    return file
  })
  for (const version of KUBERNETES_VERSIONS) {
    const result = kubernetesValidate(files, version)
    t.equal(result.status, 0, `Kubernetes ${version}: ${result.stdout}${result.stderr}`)
  }

  const misspelt = structuredClone(pods().falco) as { spec: { initContainers: Array<Record<string, any>> } }
  const sidecar = misspelt.spec.initContainers[0] as Record<string, any>
  sidecar.securityContext = { ...sidecar.securityContext, runAsNonroot: true }
  const bad = join(dir, 'misspelt.yaml')
  writeFileSync(bad, stringify(misspelt))
  const result = kubernetesValidate([bad], KUBERNETES_VERSIONS[0] as string)
  t.not(result.status, 0, 'a misspelt field fails')
  t.match(`${result.stdout}${result.stderr}`, /runAsNonroot/, 'and is named')
})

test('the RBAC objects helm/values/README.md gives for sidecar mode are valid Kubernetes objects', async (t) => {
  const blocks = [...read(root, 'helm', 'values', 'README.md').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const kinds = blocks.map((b) => /^kind: (\w+)$/m.exec(b)?.[1])
  t.same(kinds, ['ClusterRoleBinding', 'ClusterRole'])
  const dir = mkdtempSync(join(tmpdir(), 'falconet-rbac-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'rbac.yaml')
  writeFileSync(file, blocks.join('---\n'))
  const result = kubernetesValidate([file], KUBERNETES_VERSIONS[0] as string)
  t.equal(result.status, 0, `${result.stdout}${result.stderr}`)
  const role = blocks.find((b) => /^kind: ClusterRole$/m.test(b)) ?? ''
  for (const resource of ['pods', 'nodes', 'namespaces', 'serviceaccounts']) t.match(role, new RegExp(`resources: \\[.*\\b${resource}\\b`), `${resource}: node-mode enrichment reads it`)
  t.match(role, /verbs: \[get, list, watch\]/, 'read only')
})
