// The whoami page's HTML: one self-contained document (inline stylesheet, no script, no external
// asset) that reads on a phone and a desktop.
import type { WhoamiInfo } from './whoami'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
}

const TITLES = { ok: 'All good', misconfigured: 'Misconfigured', spoofable: 'Spoofable' }
const ROLE_CLASS = { 'trusted proxy': 'proxy', client: 'client', ignored: 'ignored', forged: 'forged' }

const STYLE = `
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2433;--muted:#5b6475;--line:#dfe3ea;--ok:#157347;--ok-bg:#e3f4ea;--mis:#9a5b00;--mis-bg:#fff3d6;--bad:#b3261e;--bad-bg:#fde7e5;--proxy:#2f5fb3;--proxy-bg:#e6eefc;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:64rem;margin:0 auto;padding:1rem}
header.top{display:flex;align-items:baseline;gap:.75rem;flex-wrap:wrap;margin:.5rem 0 1rem}
header.top h1{font-size:1.5rem;margin:0;letter-spacing:-.01em}
header.top span{color:var(--muted);font-size:.9rem}
.banner{border-radius:14px;padding:1rem 1.25rem;margin-bottom:1rem;border-left:8px solid}
.banner h2{margin:0 0 .25rem;font-size:1.35rem}
.banner p{margin:0}
.banner.ok{background:var(--ok-bg);border-color:var(--ok);color:#0d3d26}
.banner.misconfigured{background:var(--mis-bg);border-color:var(--mis);color:#4d2e00}
.banner.spoofable{background:var(--bad-bg);border-color:var(--bad);color:#5c130f}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:1rem 1.25rem;margin-bottom:1rem;box-shadow:0 1px 2px rgba(16,24,40,.05)}
.card h2{font-size:1.05rem;margin:0 0 .75rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
pre,code{font-family:var(--mono);font-size:.9rem}
pre{background:#111827;color:#e5e7eb;border-radius:10px;padding:.75rem 1rem;overflow-x:auto;margin:.25rem 0 .75rem;white-space:pre-wrap;overflow-wrap:anywhere}
.label{font-size:.8rem;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.chain{display:flex;flex-wrap:wrap;align-items:stretch;gap:.5rem;list-style:none;margin:0;padding:0}
.chain li{flex:1 1 10rem;min-width:9rem;border-radius:12px;padding:.6rem .75rem;border:2px solid var(--line);position:relative;background:#fafbfc}
.chain li+li::before{content:"\\2192";position:absolute;left:-.55rem;top:50%;transform:translate(-50%,-50%);color:var(--muted);font-weight:700}
.chain .addr{font-family:var(--mono);font-weight:600;word-break:break-all;display:block}
.chain .from{color:var(--muted);font-size:.85rem;display:block}
.role{display:inline-block;margin-top:.35rem;font-size:.75rem;font-weight:700;text-transform:uppercase;letter-spacing:.05em;border-radius:999px;padding:.1rem .55rem}
.chain .proxy{border-color:var(--proxy);background:var(--proxy-bg)}.proxy .role{background:var(--proxy);color:#fff}
.chain .client{border-color:var(--ok);background:var(--ok-bg)}.client .role{background:var(--ok);color:#fff}
.chain .forged{border-color:var(--bad);background:var(--bad-bg)}.forged .role{background:var(--bad);color:#fff}
.chain .ignored{border-style:dashed;color:var(--muted)}.ignored .role{background:var(--line);color:var(--ink)}.ignored .addr{text-decoration:line-through}
.chain .server{border-color:var(--ink);background:var(--ink);color:#fff}.server .from{color:#cbd5e1}.server .role{background:#fff;color:var(--ink)}
ul.warnings{list-style:none;margin:0;padding:0}
ul.warnings li{border-left:4px solid var(--mis);background:var(--mis-bg);border-radius:8px;padding:.5rem .75rem;margin-bottom:.5rem}
ul.warnings code{font-weight:700;display:block}
.flag{color:var(--bad);font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;word-break:break-all}
th{width:30%;color:var(--muted);font-weight:600}
td{font-family:var(--mono);font-size:.9rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.grid .card{margin-bottom:0}
details summary{cursor:pointer;font-weight:600}
@media (max-width:40rem){main{padding:.75rem}.chain{flex-direction:column}.chain li+li::before{content:"\\2193";left:50%;top:-.55rem}.banner h2{font-size:1.2rem}}
@media (prefers-color-scheme:dark){:root{--bg:#0f1420;--card:#171d2b;--ink:#e6e9ef;--muted:#9aa3b5;--line:#2a3345}.chain li{background:#1b2231}.banner.ok{color:#d6f5e3;background:#12321f}.banner.misconfigured{color:#ffe9b8;background:#3a2a0a}.banner.spoofable{color:#ffd9d5;background:#3d1512}.chain .proxy{background:#182846}.chain .client{background:#12321f}.chain .forged{background:#3d1512}.chain .server{background:#e6e9ef;color:#0f1420}ul.warnings li{background:#3a2a0a}}
`

function rows (record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(Array.isArray(v) ? v.join(', ') : v)}</td></tr>`).join('')
}

function chain (info: WhoamiInfo): string {
  const hops = [...info.hops].reverse().map((h) =>
    `<li class="${ROLE_CLASS[h.role]}" data-role="${escapeHtml(h.role)}"><span class="addr">${escapeHtml(h.address)}</span><span class="from">${h.from === 'socket' ? 'socket peer' : escapeHtml(h.from) + ', hop ' + String(h.hop)}</span><span class="role">${escapeHtml(h.role)}</span></li>`)
  hops.push(`<li class="server"><span class="addr">this server</span><span class="from">pid ${info.pid}</span><span class="role">server</span></li>`)
  return `<ol class="chain" aria-label="The chain, client to server">${hops.join('')}</ol>`
}

export function renderHtml (info: WhoamiInfo): string {
  const { url: _url, ...corrected } = info.corrected
  const s = info.suggestion
  const flags = s.flags === '' ? 'fastify-proxy-fix serve' : `fastify-proxy-fix serve ${s.flags}`
  const warnings = info.warnings.length === 0
    ? '<p>None for this request.</p>'
    : `<ul class="warnings">${info.warnings.map((w) => `<li><code>${escapeHtml(w.code)}</code>${escapeHtml(w.message)}</li>`).join('')}</ul>`
  const lost = info.lostPrefix === null ? '' : `<p class="flag" id="lost-prefix">Lost prefix: ${escapeHtml(info.lostPrefix)} arrives in X-Forwarded-Prefix but this URL lacks it.</p>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>whoami: ${TITLES[info.verdict]} (fastify-proxy-fix)</title>
<style>${STYLE}</style>
</head><body><main>
<header class="top"><h1>whoami</h1><span>what this server sees, and what to set &middot; fastify-proxy-fix</span></header>
<section class="banner ${info.verdict}" id="verdict" data-verdict="${info.verdict}"><h2>${TITLES[info.verdict]}</h2><p>${escapeHtml(info.reason)}</p></section>
<section class="card" id="suggestion"><h2>Suggested configuration</h2>
<p>${escapeHtml(s.note)}</p>
<div class="label">Plugin options</div><pre id="suggest-options">${escapeHtml(JSON.stringify(s.options, null, 2))}</pre>
<div class="label">serve flags</div><pre id="suggest-flags">${escapeHtml(flags)}</pre>
</section>
<section class="card" id="warnings"><h2>Warnings</h2>${warnings}</section>
<section class="card"><h2>The chain, client to server</h2>${chain(info)}
<p><span class="label">Absolute URL</span><br><code>${escapeHtml(info.corrected.url)}</code></p>${lost}</section>
<section class="card"><h2>Why</h2><ul>${info.why.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>
<div class="grid">
<section class="card"><h2>The socket's view</h2><table>${rows(info.socket)}</table></section>
<section class="card"><h2>The corrected view</h2><table>${rows({ ...corrected, trusted: info.trusted })}</table></section>
</div>
<section class="card"><h2>Request headers</h2><table>${rows(info.headers)}</table></section>
<section class="card"><h2>Configuration</h2><table>${rows({ ...info.config, pid: info.pid })}</table></section>
</main></body></html>
`
}
