import { execFileSync } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * The Kubernetes tools test/support/ensure-tools.sh installs: helm (built from its Go module),
 * kubernetes-validate (bundled OpenAPI schemas, offline) and checkov (in a venv of its own).
 */
const goBin = join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin')
export const HELM = join(goBin, 'helm')
export const CHECKOV = join(homedir(), '.cache', 'falconet-tools', 'checkov', 'bin', 'checkov')
/** The newest Kubernetes minor EKS offers in standard support, and the oldest. */
export const KUBERNETES_VERSIONS = ['1.34.0', '1.31.0']

export interface RunResult { status: number; stdout: string; stderr: string }

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
