// The proxy configurations of docs/deploy.md's recipes, for test/deploy-recipes.test.ts.
// The recipe is the lines under "recipe" (nginx, Apache) and, for Caddy and HAProxy, all but the
// listen address and timeouts; the rest runs the proxy in the foreground on loopback, with its
// files in a temporary directory.

import { nginxMain, nginxHttp } from './proxies'

const root = process.getuid?.() === 0

/** nginx with TLS in front of the app under /app; nginx connects from 127.0.0.2. */
export function nginxConf (dir: string, port: number, appPort: number, cert: string, key: string): string {
  return nginxMain(dir, nginxHttp(dir, `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    # --- recipe ---
    location /app/ {
      proxy_pass http://127.0.0.1:${appPort}/;
      proxy_bind 127.0.0.2;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Prefix /app;
      proxy_set_header Forwarded "";
    }
  }
`), { errorLog: 'nginx-error.log' })
}

export function caddyfile (port: number, appPort: number): string {
  return `{
  admin off
  auto_https off
}
http://:${port} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${appPort} {
    header_up -Forwarded
  }
}
`
}

/** HAProxy connects from 127.0.0.3 (`source`). */
export function haproxyCfg (port: number, appPort: number): string {
  return `defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s

frontend web
  bind 127.0.0.1:${port}
  option forwardfor
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request del-header Forwarded
  default_backend app

backend app
  server app1 127.0.0.1:${appPort} source 127.0.0.3
`
}

/** Apache httpd with a generated configuration; it connects from 127.0.0.1. */
export function httpdConf (dir: string, port: number, appPort: number): string {
  const mods = '/usr/lib/apache2/modules'
  return `ServerRoot ${dir}
ServerName public.example
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/httpd-error.log
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
${root ? 'User www-data\nGroup www-data' : ''}
LoadModule mpm_event_module ${mods}/mod_mpm_event.so
LoadModule authz_core_module ${mods}/mod_authz_core.so
LoadModule proxy_module ${mods}/mod_proxy.so
LoadModule proxy_http_module ${mods}/mod_proxy_http.so
LoadModule headers_module ${mods}/mod_headers.so
# --- recipe ---
ProxyPass "/" "http://127.0.0.1:${appPort}/"
RequestHeader set X-Forwarded-Proto "expr=%{REQUEST_SCHEME}"
RequestHeader unset Forwarded
`
}
