// falconet console: one small ES module, no framework. The server renders each page's shell; this
// fills it from the JSON API (docs/console.md). Text goes in through textContent only (never
// innerHTML), so nothing in a finding can run as markup.
// @ts-check

const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? ''
const role = document.querySelector('meta[name="falconet-role"]')?.getAttribute('content') ?? 'viewer'
const responder = role === 'responder'
const app = /** @type {HTMLElement} */ (document.getElementById('app'))
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL']
const KINDS = ['runtime', 'audit', 'monitor']

/**
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

/** @param {string} path @param {RequestInit & {json?: unknown}} [opts] */
async function api(path, opts = {}) {
  const headers = /** @type {Record<string,string>} */ ({ accept: 'application/json' })
  const init = /** @type {RequestInit} */ ({ credentials: 'same-origin', ...opts, headers })
  if (opts.method && opts.method !== 'GET') headers['x-csrf-token'] = csrf
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(opts.json)
  }
  const res = await fetch(path, init)
  if (res.status === 401) {
    location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`)
    throw new HttpError(401, 'signed out')
  }
  if (res.status === 204) return undefined
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text()
  if (!res.ok) throw new HttpError(res.status, typeof body === 'object' && body?.message ? body.message : `HTTP ${res.status}`)
  return body
}

/** Which optional parts this server has (/api/capabilities), asked once per page. */
let capabilities
function can() {
  capabilities ??= api('/api/capabilities').catch(() => ({}))
  return capabilities
}
/** An optional endpoint: undefined when this server does not have it (never probed blindly). */
async function optional(path, capability) {
  if (!(await can())[capability]) return undefined
  return api(path)
}

const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
/** @param {string | number | undefined | null} t */
function when(t) {
  if (t === undefined || t === null) return '—'
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : fmt.format(d)
}
/** @param {string | number | undefined | null} t */
function time(t) {
  return h('time', { datetime: t ? new Date(t).toISOString() : undefined, title: t ? new Date(t).toISOString() : undefined }, when(t))
}
/** @param {number} secs */
function age(secs) {
  if (secs === undefined || secs === null) return '—'
  if (secs < 90) return `${Math.round(secs)} s`
  if (secs < 5400) return `${Math.round(secs / 60)} min`
  if (secs < 172800) return `${Math.round(secs / 3600)} h`
  return `${Math.round(secs / 86400)} d`
}
/** @param {string} s */
function severityBadge(s) {
  return h('span', { class: `sev sev-${s.toLowerCase()}` }, s)
}
function status(message, kind = 'info') {
  const el = document.getElementById('status')
  if (el) {
    el.textContent = message
    el.className = `status ${kind}`
  }
}
/** @param {unknown} err */
function failure(err) {
  return h('p', { class: 'error', role: 'alert' }, `Could not load: ${err instanceof Error ? err.message : String(err)}`)
}
function section(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children)
}
function table(caption, headers, rows, empty = 'Nothing to show.') {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty)
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', null, h('caption', { class: 'sr-only' }, caption), h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c)))))),
  )
}
function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`
  control.id = id
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', null, hint) : null)
}
function select(name, options, value) {
  return h('select', { name }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)))
}
/** Silence end time from a duration in hours. @param {number} hours */
function endsIn(hours) {
  return new Date(Date.now() + hours * 3_600_000).toISOString()
}
const DURATIONS = [
  ['1', '1 hour'],
  ['4', '4 hours'],
  ['24', '1 day'],
  ['168', '7 days'],
]
/** @param {string} v */
function quote(v) {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

// ---------------------------------------------------------------------------------------- findings

const FILTERS = ['severity', 'source', 'rule', 'cluster', 'namespace', 'workload', 'node', 'tag', 'from', 'q', 'archived', 'sort', 'order', 'offset']
const PAGE = 50

async function findingsPage() {
  const params = new URLSearchParams(location.search)
  // Suggestions for the filters arrive after the list: they never hold up the first paint of data.
  const lists = h('div', { hidden: true })
  const suggest = () =>
    api('/api/facets')
      .then((facets) => lists.replaceChildren(...Object.entries(facets).map(([k, values]) => h('datalist', { id: `dl-${k}` }, values.map((v) => h('option', { value: v }))))))
      .catch(() => {})
  const input = (name, label, placeholder) => field(label, h('input', { name, value: params.get(name) ?? '', list: `dl-${name}`, placeholder, autocomplete: 'off' }))
  const chosen = new Set((params.get('severity') ?? '').split(',').filter(Boolean))
  const chips = h(
    'fieldset',
    { class: 'chips' },
    h('legend', null, 'Severity'),
    SEVERITIES.map((s) => h('label', { class: `chip sev-${s.toLowerCase()}` }, h('input', { type: 'checkbox', name: 'severity', value: s, checked: chosen.has(s) }), ` ${s} `, h('span', { class: 'count', 'data-sev': s }, ''))),
  )
  const form = h(
    'form',
    { role: 'search', 'aria-label': 'Filter findings', class: 'filters' },
    chips,
    h(
      'div',
      { class: 'grid' },
      field('Search', h('input', { type: 'search', name: 'q', value: params.get('q') ?? '', placeholder: 'rule, pod, image, principal…' })),
      field('Source', select('source', [['', 'any'], ...KINDS.map((k) => [k, k])], params.get('source') ?? '')),
      input('rule', 'Rule'),
      input('cluster', 'Cluster'),
      input('namespace', 'Namespace'),
      input('workload', 'Workload'),
      input('node', 'Node'),
      input('tag', 'Tag'),
      field('Received', select('from', [['', 'any time'], ['-15m', 'last 15 minutes'], ['-1h', 'last hour'], ['-24h', 'last 24 hours'], ['-7d', 'last 7 days']], params.get('from') ?? '')),
      field('State', select('archived', [['', 'active'], ['true', 'archived'], ['any', 'any']], params.get('archived') ?? '')),
      field('Sort by', select('sort', [['lastSeen', 'last seen'], ['firstSeen', 'first seen'], ['count', 'count'], ['severity', 'severity'], ['rule', 'rule']], params.get('sort') ?? 'lastSeen')),
      field('Order', select('order', [['desc', 'descending'], ['asc', 'ascending']], params.get('order') ?? 'desc')),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply'), h('button', { type: 'reset', class: 'secondary' }, 'Clear')),
  )
  const summary = h('p', { id: 'summary', class: 'summary', 'aria-live': 'polite' })
  const list = h('div', { id: 'list' })
  const pager = h('nav', { 'aria-label': 'Pages', class: 'pager' })
  const live = h('p', { class: 'live muted', id: 'status' }, '')
  app.replaceChildren(lists, form, h('div', { class: 'bar' }, summary, live), list, pager)

  let offset = Number(params.get('offset') ?? 0) || 0
  const query = () => {
    const data = new FormData(form)
    const q = new URLSearchParams()
    const sev = data.getAll('severity').map(String)
    if (sev.length) q.set('severity', sev.join(','))
    for (const k of FILTERS) {
      if (k === 'severity' || k === 'offset') continue
      const v = String(data.get(k) ?? '').trim()
      if (v && !(k === 'sort' && v === 'lastSeen') && !(k === 'order' && v === 'desc')) q.set(k, v)
    }
    if (offset) q.set('offset', String(offset))
    return q
  }
  let loading = false
  let again = false
  const load = async () => {
    if (loading) {
      again = true
      return
    }
    loading = true
    const q = query()
    history.replaceState(null, '', q.size ? `?${q}` : location.pathname)
    try {
      const apiQuery = new URLSearchParams(q)
      apiQuery.set('limit', String(PAGE))
      const started = performance.now()
      const page = await api(`/api/findings?${apiQuery}`)
      renderList(page, list, summary, pager, Math.round(performance.now() - started))
      // Which query the list shows: the filters can change again while a load is in flight.
      summary.dataset.query = String(q)
      if (performance.getEntriesByName('falconet:list').length === 0) performance.mark('falconet:list')
      for (const el of form.querySelectorAll('.count')) el.textContent = String(page.bySeverity[/** @type {HTMLElement} */ (el).dataset.sev ?? ''] ?? 0)
    } catch (err) {
      list.replaceChildren(failure(err))
    } finally {
      loading = false
      if (again) {
        again = false
        void load()
      }
    }
  }
  pager.addEventListener('click', (e) => {
    const target = /** @type {HTMLElement} */ (e.target)
    if (target.dataset.offset === undefined) return
    offset = Number(target.dataset.offset)
    void load().then(() => document.getElementById('summary')?.focus())
  })
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    offset = 0
    void load()
  })
  form.addEventListener('change', () => {
    offset = 0
    void load()
  })
  form.addEventListener('reset', () =>
    setTimeout(() => {
      for (const el of form.querySelectorAll('input:not([type=checkbox])')) /** @type {HTMLInputElement} */ (el).value = ''
      offset = 0
      void load()
    }),
  )
  let typing
  form.querySelector('input[name=q]')?.addEventListener('input', () => {
    clearTimeout(typing)
    typing = setTimeout(() => {
      offset = 0
      void load()
    }, 300)
  })
  await load()
  void suggest()
  liveUpdates(load)
}

function renderList(page, list, summary, pager, ms) {
  const first = page.total === 0 ? 0 : page.offset + 1
  const last = page.offset + page.items.length
  summary.textContent = page.total === 0 ? 'No findings match.' : `Findings ${first}–${last} of ${page.total.toLocaleString()}`
  summary.setAttribute('tabindex', '-1')
  summary.dataset.ms = String(ms)
  const rows = page.items.map((f) => [
    severityBadge(f.severity),
    h('a', { href: `/ui/finding?id=${encodeURIComponent(f.id)}` }, f.rule),
    h('span', null, [f.namespace, f.workload].filter(Boolean).join(' / ') || '—', f.archived ? h('span', { class: 'tag' }, ' archived') : ''),
    f.kind,
    f.node ?? '—',
    h('span', { class: 'num' }, f.count.toLocaleString()),
    h('span', { class: 'num' }, String(f.distinctPods)),
    time(f.lastObservedAt),
  ])
  list.replaceChildren(table('Findings', ['Severity', 'Rule', 'Namespace / workload', 'Source', 'Node', 'Count', 'Pods', 'Last seen'], rows, 'No findings match these filters.'))
  list.querySelector('table')?.classList.add('findings')
  const prev = page.offset > 0
  const next = page.offset + page.limit < page.total
  pager.replaceChildren(
    h('button', { type: 'button', class: 'secondary', disabled: !prev, 'data-offset': Math.max(0, page.offset - page.limit) }, '← Newer'),
    h('button', { type: 'button', class: 'secondary', disabled: !next, 'data-offset': page.offset + page.limit }, 'Older →'),
  )
}

/** One EventSource per page; a change event re-asks for the current view, at most every 2 seconds. */
function liveUpdates(reload) {
  if (!('EventSource' in window)) return
  const source = new EventSource('/api/events')
  let timer
  let last = 0
  source.addEventListener('open', () => status('● live', 'ok'))
  source.addEventListener('error', () => status('○ reconnecting…', 'warn'))
  source.addEventListener('findings', () => {
    if (timer) return
    const wait = Math.max(0, 2000 - (Date.now() - last))
    timer = setTimeout(() => {
      timer = undefined
      last = Date.now()
      void reload()
    }, wait)
  })
  addEventListener('pagehide', () => source.close())
}

// ----------------------------------------------------------------------------------------- finding

async function findingPage() {
  const id = new URLSearchParams(location.search).get('id') ?? ''
  const record = await api(`/api/findings/${id}`)
  const f = record.finding
  const e = f.event
  const w = e.workload ?? {}
  document.title = `${e.rule} · falconet`
  const c = w.container ?? {}
  const image = c.imageRepository ? `${c.imageRepository}${c.imageTag ? `:${c.imageTag}` : ''}${c.imageDigest ? `@${c.imageDigest}` : ''}` : undefined
  const principal = e.actor ? [e.actor.username, e.actor.arn].filter(Boolean).join(' · ') : undefined
  const facts = [
    ['What', e.output],
    ['Severity', severityBadge(f.severity)],
    ['Source', `${e.source} (via ${e.input})`],
    ['Received', receivedVia(e.provenance)],
    ['Cluster', w.cluster],
    ['Namespace', w.namespace],
    ['Workload', w.owner ? `${w.owner.kind}/${w.owner.name}` : record.labels?.workload],
    ['Pod', w.pod],
    ['Container', c.name],
    ['Image', image],
    ['Node', w.node ?? e.hostname],
    ['Instance', w.nodeInfo ? [w.nodeInfo.instanceId, w.nodeInfo.instanceType, w.nodeInfo.zone].filter(Boolean).join(' · ') : undefined],
    ['Principal', principal],
    ['Process', e.process ? [e.process.commandLine ?? e.process.name, e.process.user ? `user ${e.process.user}` : undefined].filter(Boolean).join(' · ') : undefined],
    ['IAM role', w.iam?.roleArn ? `${w.iam.roleArn} (${w.iam.via})` : undefined],
    ['First seen', time(f.firstObservedAt)],
    ['Last seen', time(f.lastObservedAt)],
    ['How often', `${f.count.toLocaleString()} times, ${f.distinctPods} pod(s), ${f.distinctContainers} container(s)`],
    ['State', f.archived ? `archived${record.archivedBy ? ` by ${record.archivedBy.who}${record.archivedBy.comment ? ` — ${record.archivedBy.comment}` : ''}` : ''}` : 'active'],
    ['Tags', e.tags?.length ? e.tags.join(', ') : undefined],
    ['Id', h('code', null, f.id)],
  ].filter(([, v]) => v !== undefined && v !== '')
  const heading = /** @type {HTMLElement} */ (document.querySelector('main h1'))
  heading.textContent = e.rule
  const links = h('ul', { class: 'links' }, h('li', null, h('a', { href: `/api/findings/${f.id}/asff` }, 'ASFF (JSON)')))
  const blocks = [
    section('Summary', h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])), links),
  ]
  if (responder) blocks.push(actions(record))
  blocks.push(section('Delivery', h('div', { id: 'delivery' }, h('p', { class: 'muted' }, 'Loading…'))))
  blocks.push(section('Sample pods', f.samplePods?.length ? h('ul', null, f.samplePods.map((p) => h('li', null, p))) : h('p', { class: 'muted' }, 'No pod.')))
  blocks.push(
    section(
      'Occurrences',
      table(
        'Occurrence timeline',
        ['Time', 'Count so far'],
        [...record.timeline].reverse().slice(0, 30).map(([t, n]) => [time(t), h('span', { class: 'num' }, n.toLocaleString())]),
      ),
    ),
  )
  blocks.push(section('Latest event', h('pre', { class: 'raw', tabindex: '0', 'aria-label': 'Latest event as JSON' }, JSON.stringify(e, null, 2))))
  app.replaceChildren(...blocks)
  void delivery(record)
  void extraLinks(f, links)
}

/** How falconet received the event (falconet's own record, never what the body claimed): the finding's provenance. */
const RECEIVED_VIA = {
  'falco-http-output': 'Falco http_output',
  'fluent-bit': 'Fluent Bit record',
  'k8s-audit-webhook': 'audit webhook',
  'eks-audit-cloudwatch': 'EKS audit log (CloudWatch)',
  test: 'POST /test',
  falconet: 'falconet',
}
const VERIFIED_BY = { 'kubernetes-metadata': "the kubernetes filter's metadata", 'log-file': "kubelet's log file name", unverified: 'nothing (allowed by configuration)' }

function receivedVia(p) {
  if (!p) return undefined
  const pod = p.namespace || p.pod ? `${p.namespace ?? '?'}/${p.pod ?? '?'}${p.container ? ` (container ${p.container})` : ''}` : undefined
  return [
    RECEIVED_VIA[p.via] ?? p.via,
    pod ? `from pod ${pod}` : undefined,
    p.node ? `on node ${p.node}` : undefined,
    p.verifiedBy ? `, sender verified by ${VERIFIED_BY[p.verifiedBy] ?? p.verifiedBy}` : undefined,
  ]
    .filter(Boolean)
    .join(' ')
    .replace(' ,', ',')
}

async function extraLinks(f, links) {
  const asff = await optional(`/api/findings/${f.id}/asff`, 'asff').catch(() => undefined)
  if (asff?.Region && asff?.Id) {
    const region = asff.Region
    const search = `Id%3D%255Coperator%255C%253AEQUALS%255C%253A${encodeURIComponent(encodeURIComponent(asff.Id))}`
    links.append(h('li', null, h('a', { href: `https://${region}.console.aws.amazon.com/securityhub/home?region=${region}#/findings?search=${search}`, rel: 'noopener noreferrer', target: '_blank' }, 'Security Hub')))
  }
  // OCSF arrives with the OCSF encoder: shown only where the server has it.
  if ((await can()).ocsf) links.append(h('li', null, h('a', { href: `/api/findings/${f.id}/ocsf` }, 'OCSF (JSON)')))
}

async function delivery(record) {
  const f = record.finding
  const el = /** @type {HTMLElement} */ (document.getElementById('delivery'))
  const [dead, statusBody] = await Promise.all([optional(`/api/dead-letters?id=${encodeURIComponent(f.id)}`, 'deadLetters').catch(() => undefined), optional('/api/status', 'status').catch(() => undefined)])
  const deadBySink = new Map((dead?.items ?? []).map((d) => [d.sink, d]))
  const health = new Map((statusBody?.sinks ?? []).map((s) => [s.id, s]))
  // Dead letters: this server's file, or what the index recorded (with several replicas, the one that gave up may be another).
  const recordedDead = record.deadLettered ?? {}
  const sinks = [...new Set([...record.routedTo, ...Object.keys(record.delivered), ...deadBySink.keys(), ...Object.keys(recordedDead)])]
  const rows = sinks.map((sink) => {
    const d = record.delivered[sink]
    const recorded = recordedDead[sink]
    const dl = deadBySink.get(sink) ?? (recorded && !(d && d.version >= recorded.version) ? recorded : undefined)
    const state = dl ? 'dead-lettered' : d && d.version >= f.version ? 'delivered' : record.routedTo.includes(sink) ? 'pending' : d ? 'delivered (earlier version)' : '—'
    const s = health.get(sink)
    return [sink, h('span', { class: `state state-${state.split(' ')[0]}` }, state), d ? `v${d.version} of v${f.version}` : '—', d ? time(d.at) : '—', dl ? dl.reason : s?.lastError ? `sink: ${s.lastError.message}` : '—']
  })
  el.replaceChildren(
    table('Delivery per sink', ['Sink', 'State', 'Version delivered', 'Delivered at', 'Problem'], rows, 'This finding was not routed to any sink.'),
    dead === undefined ? h('p', { class: 'muted' }, 'Dead-letter details are not available from this server version.') : '',
  )
}

function actions(record) {
  const f = record.finding
  const l = record.labels ?? {}
  const candidates = [
    `rule = ${quote(l.rule ?? f.event.rule)}`,
    l.cluster ? `cluster = ${quote(l.cluster)}` : undefined,
    l.namespace ? `namespace = ${quote(l.namespace)}` : undefined,
    l.workload ? `workload = ${quote(l.workload)}` : undefined,
    !l.pod && l.node ? `node = ${quote(l.node)}` : undefined,
  ].filter(Boolean)
  const silence = h(
    'form',
    { class: 'card', 'aria-labelledby': 'silence-h' },
    h('h3', { id: 'silence-h' }, 'Silence findings like this'),
    h('fieldset', null, h('legend', null, 'Matchers'), candidates.map((m, i) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'matcher', value: m, checked: i === 0 || m.startsWith('namespace') || m.startsWith('workload') }), ' ', h('code', null, m)))),
    field('Duration', select('hours', DURATIONS, '4')),
    field('Comment', h('input', { name: 'comment', required: true, maxlength: 2000, placeholder: 'why (ticket, known job…)' })),
    h('button', { type: 'submit' }, 'Create silence'),
    h('p', { class: 'result', role: 'status' }),
  )
  silence.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const data = new FormData(silence)
    const out = /** @type {HTMLElement} */ (silence.querySelector('.result'))
    try {
      const s = await api('/api/silences', { method: 'POST', json: { matchers: data.getAll('matcher').map(String), endsAt: endsIn(Number(data.get('hours'))), createdBy: 'console', comment: String(data.get('comment') ?? '') } })
      out.textContent = `Silenced until ${when(s.endsAt)} (silence ${s.id}).`
      out.className = 'result ok'
    } catch (err) {
      out.textContent = `Not silenced: ${err instanceof Error ? err.message : err}`
      out.className = 'result error'
    }
  })
  const archive = h(
    'form',
    { class: 'card', 'aria-labelledby': 'archive-h' },
    h('h3', { id: 'archive-h' }, 'Archive'),
    h('p', { class: 'muted' }, 'Marks it resolved: Security Hub gets RecordState ARCHIVED, paging a resolve. A new occurrence opens it again.'),
    field('Comment', h('input', { name: 'comment', maxlength: 2000, placeholder: 'why' })),
    h('button', { type: 'submit', disabled: f.archived === true }, f.archived ? 'Archived' : 'Archive finding'),
    h('p', { class: 'result', role: 'status' }),
  )
  archive.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const out = /** @type {HTMLElement} */ (archive.querySelector('.result'))
    try {
      await api('/api/findings/archive', { method: 'POST', json: { id: f.id, comment: String(new FormData(archive).get('comment') ?? '') } })
      out.textContent = 'Archived.'
      out.className = 'result ok'
      setTimeout(() => location.reload(), 800)
    } catch (err) {
      out.textContent = `Not archived: ${err instanceof Error ? err.message : err}`
      out.className = 'result error'
    }
  })
  return section('Actions', h('div', { class: 'cards' }, silence, archive))
}

// ---------------------------------------------------------------------------------------- overview

const RANGES = [
  ['-1h', 'last hour'],
  ['-24h', 'last 24 hours'],
  ['-7d', 'last 7 days'],
]

async function overviewPage() {
  const params = new URLSearchParams(location.search)
  const range = params.get('from') ?? '-24h'
  const form = h('form', { class: 'filters inline', 'aria-label': 'Time range' }, field('Range', select('from', RANGES, range)))
  form.addEventListener('change', () => {
    const v = String(new FormData(form).get('from'))
    history.replaceState(null, '', `?from=${v}`)
    void render(v)
  })
  const body = h('div')
  app.replaceChildren(form, body)
  const render = async (from) => {
    try {
      const s = await api(`/api/stats?from=${encodeURIComponent(from)}`)
      body.replaceChildren(...overview(s))
      drawCharts(s)
    } catch (err) {
      body.replaceChildren(failure(err))
    }
  }
  await render(range)
  liveUpdates(() => render(String(new FormData(form).get('from'))))
}

function overview(s) {
  const t = s.totals
  // Without aggregation every alert is one ingestion event; with it, one per finding version sent
  // (the versions stand in when Security Hub is not enabled here).
  const sent = t.securityHub.calls > 0 ? t.securityHub.findingsSent : t.findingVersions
  const saved = Math.max(0, t.alertsReceived - sent)
  const cost = saved * s.pricePerFinding
  const card = (label, value, note) => h('div', { class: 'stat' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label), note ? h('small', null, note) : '')
  return [
    h(
      'div',
      { class: 'stats', role: 'group', 'aria-label': 'Counts' },
      card('findings in range', s.findings.toLocaleString()),
      ...SEVERITIES.map((x) => card(x.toLowerCase(), String(s.bySeverity[x] ?? 0))),
      ...KINDS.map((k) => card(k, String(s.byKind[k] ?? 0))),
    ),
    section(
      'What aggregation saved',
      h(
        'div',
        { class: 'stats' },
        card('alerts received', t.alertsReceived.toLocaleString(), 'since the index began'),
        card('finding versions', t.findingVersions.toLocaleString()),
        card('Security Hub calls', t.securityHub.calls.toLocaleString(), `${t.securityHub.findingsSent.toLocaleString()} findings sent`),
        card('estimated saved', `$${cost.toFixed(cost < 1 ? 4 : 2)}`, `${saved.toLocaleString()} ingestion events × $${s.pricePerFinding}`),
      ),
    ),
    section('Alerts over time by severity', h('div', { class: 'chart', id: 'chart-severity', role: 'img', 'aria-label': 'Alerts per 5 minutes by severity' })),
    section('Alerts over time by source', h('div', { class: 'chart', id: 'chart-kind', role: 'img', 'aria-label': 'Alerts per 5 minutes by source' })),
    h(
      'div',
      { class: 'cols' },
      section('Noisiest rules', table('Noisiest rules', ['Rule', 'Alerts', 'Findings'], s.topRules.map((r) => [h('a', { href: `/ui/?rule=${encodeURIComponent(r.rule)}&archived=any` }, r.rule), h('span', { class: 'num' }, r.alerts.toLocaleString()), h('span', { class: 'num' }, String(r.findings))]), 'No alerts in this range.')),
      section('Namespaces', table('Alerts by namespace', ['Namespace', 'Alerts'], s.topNamespaces.map((n) => [n.namespace, h('span', { class: 'num' }, n.alerts.toLocaleString())]), 'No alerts in this range.')),
    ),
  ]
}

const COLORS = { CRITICAL: '#b3261e', HIGH: '#e4572e', MEDIUM: '#c98a00', LOW: '#2e7dba', INFORMATIONAL: '#6b7280', runtime: '#7b61ff', audit: '#1a9e77', monitor: '#9a6b3f' }

function drawCharts(s) {
  const uPlot = /** @type {any} */ (window).uPlot
  if (!uPlot) return
  const xs = s.series.map((b) => Date.parse(b.start) / 1000)
  const plot = (id, keys, pick) => {
    const el = document.getElementById(id)
    if (!el) return
    if (xs.length === 0) {
      el.replaceChildren(h('p', { class: 'muted' }, 'No alerts in this range.'))
      return
    }
    const width = Math.max(300, el.clientWidth || 600)
    const data = [xs, ...keys.map((k) => s.series.map((b) => pick(b)[k] ?? 0))]
    const dark = matchMedia('(prefers-color-scheme: dark)').matches
    const axis = { stroke: dark ? '#c9d1d9' : '#24292f', grid: { stroke: dark ? '#30363d' : '#e5e7eb' } }
    new uPlot(
      {
        width,
        height: 220,
        series: [{}, ...keys.map((k) => ({ label: k, stroke: COLORS[k], width: 2, points: { show: xs.length < 40 } }))],
        axes: [axis, axis],
        scales: { x: { time: true } },
      },
      data,
      el,
    )
  }
  plot('chart-severity', SEVERITIES, (b) => b.severity)
  plot('chart-kind', KINDS, (b) => b.kind)
}

// ------------------------------------------------------------------------------------------ health

async function healthPage() {
  const parts = {
    sinks: h('div', null, h('p', { class: 'muted' }, 'Loading…')),
    dead: h('div', null, h('p', { class: 'muted' }, 'Loading…')),
    sources: h('div', null, h('p', { class: 'muted' }, 'Loading…')),
    silences: h('div', null, h('p', { class: 'muted' }, 'Loading…')),
  }
  app.replaceChildren(section('Sinks', parts.sinks), section('Dead letters', parts.dead), section('Monitored sources', parts.sources), section('Silences', parts.silences, responder ? newSilence(() => void silences(parts.silences)) : ''))
  await Promise.all([sinks(parts.sinks), deadLetters(parts.dead), sources(parts.sources), silences(parts.silences)])
}

async function sinks(el) {
  try {
    const body = await optional('/api/status', 'status')
    if (body) {
      el.replaceChildren(
        table(
          'Sinks',
          ['Sink', 'Pending', 'Oldest pending', 'Last success', 'Last error', 'Dead letters'],
          body.sinks.map((s) => [s.id, h('span', { class: 'num' }, String(s.pending)), age(s.oldestPendingAgeSecs), s.lastSuccessAt ? time(s.lastSuccessAt) : 'never', s.lastError ? h('span', null, time(s.lastError.at), ` ${s.lastError.message}`) : '—', h('span', { class: 'num' }, String(s.deadLettered))]),
          'No sink is enabled.',
        ),
      )
      return
    }
    // Servers without /api/status: readiness still says which sinks run and how much is queued.
    const ready = await fetch('/readyz', { credentials: 'same-origin' }).then((r) => r.json())
    el.replaceChildren(
      table('Sinks', ['Sink', 'Ready', 'Pending'], Object.entries(ready.sinks ?? {}).map(([id, s]) => [id, s.ready ? 'yes' : 'starting', h('span', { class: 'num' }, String(s.pending))]), 'No sink is enabled.'),
      h('p', { class: 'muted' }, 'Oldest pending age, last success and last error need /api/status, which this server does not have.'),
    )
  } catch (err) {
    el.replaceChildren(failure(err))
  }
}

async function deadLetters(el) {
  try {
    const body = await optional('/api/dead-letters', 'deadLetters')
    if (!body) {
      el.replaceChildren(h('p', { class: 'muted' }, 'Dead letters and redrive need /api/dead-letters, which this server does not have.'))
      return
    }
    const redrive = async (json, button) => {
      button.disabled = true
      try {
        const r = await api('/api/dead-letters/redrive', { method: 'POST', json })
        await deadLetters(el) // re-rendered first: the message goes in the new section
        status(`${r.requeued} dead letter(s) queued again.`, 'ok')
      } catch (err) {
        status(`Redrive failed: ${err instanceof Error ? err.message : err}`, 'error')
        button.disabled = false
      }
    }
    const bySink = [...new Set(body.items.map((d) => d.sink))]
    el.replaceChildren(
      h('p', { id: 'status', role: 'status', class: 'status' }),
      table(
        'Dead letters',
        ['Sink', 'Finding', 'Reason', 'At', ''],
        body.items.map((d) => [
          d.sink,
          h('a', { href: `/ui/finding?id=${encodeURIComponent(d.id)}` }, d.finding?.event?.rule ?? d.id),
          d.reason,
          time(d.at),
          responder ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Redrive ${d.id} to ${d.sink}`, onclick: (e) => redrive({ sink: d.sink, id: d.id }, e.currentTarget) }, 'Redrive') : '',
        ]),
        'No dead letters.',
      ),
      responder ? h('div', { class: 'actions' }, bySink.map((sink) => h('button', { type: 'button', onclick: (e) => redrive({ sink }, e.currentTarget) }, `Redrive all for ${sink}`))) : '',
    )
  } catch (err) {
    el.replaceChildren(failure(err))
  }
}

async function sources(el) {
  try {
    const body = await api('/api/sources')
    if (!body.monitored) {
      el.replaceChildren(h('p', { class: 'muted' }, 'Source monitoring is off (monitor.enabled).'))
      return
    }
    const now = Date.now()
    el.replaceChildren(
      table(
        'Monitored sources',
        ['Kind', 'Source', 'Last seen', 'State'],
        body.sources.map((s) => [s.kind, s.identity, h('span', null, time(s.lastSeen), ` (${age((now - Date.parse(s.lastSeen)) / 1000)} ago)`), h('span', { class: `state state-${s.silent ? 'dead' : 'delivered'}` }, s.silent ? 'silent' : 'talking')]),
        'No source has reported yet.',
      ),
    )
  } catch (err) {
    el.replaceChildren(failure(err))
  }
}

async function silences(el) {
  try {
    const body = await api('/api/silences')
    el.replaceChildren(
      table(
        'Silences',
        ['Matchers', 'Until', 'By', 'Comment', ''],
        body.silences.map((s) => [
          h('code', null, s.matchers.join(', ')),
          time(s.endsAt),
          s.createdBy,
          s.comment,
          responder && !s.id.startsWith('config-')
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'aria-label': `Expire silence ${s.matchers.join(', ')}`,
                  onclick: async () => {
                    await api(`/api/silences/${encodeURIComponent(s.id)}`, { method: 'DELETE' })
                    await silences(el)
                  },
                },
                'Expire',
              )
            : s.id.startsWith('config-')
              ? 'from config'
              : '',
        ]),
        'No active silence.',
      ),
    )
  } catch (err) {
    el.replaceChildren(failure(err))
  }
}

function newSilence(done) {
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-silence-h' },
    h('h3', { id: 'new-silence-h' }, 'New silence'),
    field('Matchers, one per line', h('textarea', { name: 'matchers', rows: 3, required: true, placeholder: 'namespace = "batch"\nrule =~ "Drop and execute.*"' }), 'label op value; labels: severity, rule, source, cluster, namespace, workload, pod, node, tag, label:<key>'),
    field('Duration', select('hours', DURATIONS, '4')),
    field('Comment', h('input', { name: 'comment', required: true, maxlength: 2000 })),
    h('button', { type: 'submit' }, 'Create silence'),
    h('p', { class: 'result', role: 'status' }),
  )
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const data = new FormData(form)
    const out = /** @type {HTMLElement} */ (form.querySelector('.result'))
    try {
      const matchers = String(data.get('matchers')).split('\n').map((m) => m.trim()).filter(Boolean)
      await api('/api/silences', { method: 'POST', json: { matchers, endsAt: endsIn(Number(data.get('hours'))), createdBy: 'console', comment: String(data.get('comment') ?? '') } })
      out.textContent = 'Silence created.'
      out.className = 'result ok'
      form.reset()
      done()
    } catch (err) {
      out.textContent = `Not created: ${err instanceof Error ? err.message : err}`
      out.className = 'result error'
    }
  })
  return form
}

// ------------------------------------------------------------------------------------------- start

const pages = { findings: findingsPage, finding: findingPage, overview: overviewPage, health: healthPage }
const run = pages[/** @type {keyof typeof pages} */ (document.body.dataset.page ?? '')]
if (run) {
  run()
    .then(() => document.body.setAttribute('data-ready', 'true'))
    .catch((err) => {
      app.replaceChildren(failure(err))
      document.body.setAttribute('data-ready', 'error')
    })
}
