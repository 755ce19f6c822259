import { execFileSync } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * The Kubernetes tools test/support/ensure-tools.sh installs: helm (built from its Go module),
 * kubernetes-validate (bundled OpenAPI schemas, offline), checkov and hadolint (in a venv of their own).
 */
const goBin = join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin')
export const HELM = join(goBin, 'helm')
const toolsVenv = join(homedir(), '.cache', 'falconet-tools', 'venv', 'bin')
export const CHECKOV = join(toolsVenv, 'checkov')
export const HADOLINT = join(toolsVenv, 'hadolint')
/** The newest Kubernetes minor EKS offers in standard support, and the oldest. */
export const KUBERNETES_VERSIONS = ['1.34.0', '1.31.0']

export interface RunResult {
  status: number
  stdout: string
  stderr: string
}

export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): RunResult {
  try {
    const stdout = execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 })
    return { status: 0, stdout, stderr: '' }
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string }
    return { status: e.status ?? 1, stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? '') }
  }
}

export function helm(args: string[], cwd?: string): RunResult {
  return run(HELM, args, { cwd })
}

/**
 * Validates manifests (files of YAML documents) against the Kubernetes OpenAPI schemas with
 * --strict, so an unknown field is an error too. Custom resources (no bundled schema) are reported
 * by kubernetes-validate as warnings, which callers check separately.
 */
export function kubernetesValidate(files: string[], version: string): RunResult {
  return run('python3', ['-m', 'kubernetes_validate', '--strict', '--no-warn', '-k', version, ...files])
}

const PROMETHEUS_OPERATOR = 'github.com/prometheus-operator/prometheus-operator@v0.85.0'

/**
 * A validator for one prometheus-operator custom resource kind, from the CRD's openAPIV3Schema in the
 * operator's Go module (downloaded by ensure-tools.sh). Objects are closed like the API server's
 * strict field validation, except where the CRD preserves unknown fields.
 */
export async function crdValidator(plural: 'servicemonitors' | 'prometheusrules'): Promise<(doc: unknown) => string[]> {
  const { Ajv } = await import('ajv')
  const { parse } = await import('yaml')
  const { readFileSync } = await import('node:fs')
  const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', PROMETHEUS_OPERATOR], { encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' }, cwd: homedir() })) as { Dir: string }
  const crd = parse(readFileSync(join(info.Dir, 'example', 'prometheus-operator-crd', `monitoring.coreos.com_${plural}.yaml`), 'utf8')) as any
  const version = crd.spec.versions.find((v: any) => v.name === 'v1')
  const close = (s: any): any => {
    if (s && typeof s === 'object') {
      if (s.type === 'object' && s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) s.additionalProperties = false
      for (const v of Object.values(s)) close(v)
    }
    return s
  }
  const schema = close(version.schema.openAPIV3Schema)
  // metadata is the API server's ObjectMeta, not described by the CRD.
  schema.properties.metadata = { type: 'object' }
  // The CRDs' patterns are Go (RE2) regular expressions: an inline (?i) is JavaScript's i flag.
  const regExp = Object.assign((source: string, flags: string) => (source.includes('(?i)') ? new RegExp(source.replaceAll('(?i)', ''), `${flags}i`) : new RegExp(source, flags)), { code: 'RegExp' })
  const validate = new Ajv({ strict: false, validateFormats: false, allErrors: true, code: { regExp } }).compile(schema)
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`))
}
