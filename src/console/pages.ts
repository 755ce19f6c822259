import type { Identity } from './auth/sessions.js'

/**
 * The HTML of each page: a small server-rendered shell (navigation, who is signed in, the CSRF
 * token for the scripts) that /ui/assets/app.js fills from the JSON API. No inline script or
 * style: the Content-Security-Policy allows only files served from /ui/assets.
 */
export type Page = 'findings' | 'finding' | 'overview' | 'health'

const TITLES: Record<Page, string> = { findings: 'Findings', finding: 'Finding', overview: 'Overview', health: 'Health' }
const NAV: Array<[Page, string]> = [
  ['findings', '/ui/'],
  ['overview', '/ui/overview'],
  ['health', '/ui/health'],
]

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function head(title: string, extra = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)} · falconet</title>
<link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/app.css">
${extra}</head>`
}

export function pageHtml(page: Page, identity: Identity): string {
  const nav = NAV.map(([p, href]) => `<a href="${href}"${p === page || (page === 'finding' && p === 'findings') ? ' aria-current="page"' : ''}>${TITLES[p]}</a>`).join('')
  const signOut =
    identity.via === 'anonymous'
      ? `<span class="who">local access (${identity.role})</span>`
      : `<form method="post" action="/ui/auth/logout" class="signout"><input type="hidden" name="csrf" value="${escapeHtml(identity.csrf ?? '')}"><span class="who" title="${escapeHtml(identity.who)}">${escapeHtml(identity.who)} · ${identity.role}</span> <button type="submit">Sign out</button></form>`
  const charts = page === 'overview' ? '<link rel="stylesheet" href="/ui/vendor/uPlot.min.css">\n<script src="/ui/vendor/uPlot.iife.min.js" defer></script>\n' : ''
  return `${head(
    TITLES[page],
    `<meta name="csrf-token" content="${escapeHtml(identity.csrf ?? '')}">
<meta name="falconet-role" content="${identity.role}">
${charts}<script type="module" src="/ui/assets/app.js"></script>
`,
  )}
<body data-page="${page}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand"><img src="/ui/assets/favicon.svg" alt="" width="20" height="20"> falconet</span>
<nav aria-label="Console">${nav}</nav>
${signOut}
</header>
<main id="main" tabindex="-1"><h1>${TITLES[page]}</h1><div id="app" aria-live="polite"><p class="muted">Loading…</p></div>
<noscript><p>This page needs JavaScript; the same data is available from the JSON API (docs/console.md).</p></noscript></main>
</body>
</html>
`
}

export function loginHtml(opts: { token: boolean; oidc: boolean; error?: string | undefined; next?: string | undefined; insecure?: boolean }): string {
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''
  const insecure = opts.insecure ? '<p class="error" role="alert">This page came over plain HTTP: browsers keep the sign-in cookie (Secure) only over HTTPS or on localhost, so signing in here will not stick. Serve falconet over HTTPS (server.tls or an ingress), or use a port-forward to localhost.</p>' : ''
  const next = opts.next ? `<input type="hidden" name="next" value="${escapeHtml(opts.next)}">` : ''
  const token = opts.token
    ? `<form method="post" action="/ui/auth/login" class="card">
<h2>Management token</h2>
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
${next}<button type="submit">Sign in</button>
</form>`
    : ''
  const oidc = opts.oidc ? `<div class="card"><h2>Single sign-on</h2><a class="button" href="/ui/auth/oidc">Sign in with your identity provider</a></div>` : ''
  const none = !opts.token && !opts.oidc ? '<p class="error" role="alert">No sign-in method is configured: set api.adminTokenFile (or FALCONET_ADMIN_TOKEN) or console.oidc. See docs/console.md.</p>' : ''
  return `${head('Sign in')}
<body data-page="login">
<main id="main" class="login"><h1><img src="/ui/assets/favicon.svg" alt="" width="28" height="28"> falconet console</h1>
${insecure}${error}${none}${token}${oidc}
</main>
</body>
</html>
`
}

/**
 * After the provider's redirect the browser holds the new SameSite=Strict cookie but would not send
 * it on this cross-site-initiated navigation: a same-site hop (meta refresh) makes the next request
 * carry it.
 */
export function continueHtml(to: string): string {
  return `${head('Signed in', `<meta http-equiv="refresh" content="0;url=${escapeHtml(to)}">\n`)}
<body data-page="login"><main id="main" class="login"><p>Signed in. <a href="${escapeHtml(to)}">Continue to the console</a>.</p></main></body>
</html>
`
}
