// Bypass class: a client's broken RFC 7239 Forwarded element in front of the proxy's own, which
// must neither be believed nor make the proxy's element be dropped (GHSA-444r-cwp2-x5xf for the untrusted peer).
import { test } from 'tap'
import { HOST, TRUSTED, UNTRUSTED, check, done, rows, type Json, type Row } from '../helpers/battery'

test('RFC 7239 Forwarded', async (t) => {
  const fwd = (v: string, want: Json, peer = TRUSTED): Row => ({ name: `Forwarded ${JSON.stringify(v)}${peer === TRUSTED ? '' : ' from ' + peer}`, setup: 'fwd', peer, headers: { forwarded: v }, want })
  await check(t, rows([
    fwd('for=1.2.3.4;proto=https;host=pub.example', { ip: '1.2.3.4', protocol: 'https', host: 'pub.example' }),
    fwd('for="[2001:db8:cafe::17]:4711"', { ip: '2001:db8:cafe::17' }),
    fwd('for=2001:db8::1', { ip: TRUSTED }),
    fwd('for=unknown;proto=https', { ip: TRUSTED, protocol: 'https' }),
    fwd('for=_hidden', { ip: TRUSTED }),
    fwd('for=127.1', { ip: TRUSTED }),
    fwd('for=1.2.3.4;for=5.6.7.8', { ip: TRUSTED }),
    fwd('for="1.2.3.4', { ip: TRUSTED }),
    fwd('For=1.2.3.4;PROTO=HTTPS', { ip: '1.2.3.4', protocol: 'https' }),
    fwd('for=6.6.6.6;proto=https, for=1.2.3.4;proto=http, for=10.0.0.2', { ip: '1.2.3.4', protocol: 'http' }),
    fwd('for=1.2.3.4;host="evil.com:fake@legitimate.com"', { ip: '1.2.3.4', host: HOST }),
    fwd('for=1.2.3.4;host="evil.com/x"', { host: HOST }),
    fwd('for=1.2.3.4;proto=javascript', { protocol: 'http' }),
    fwd('for=1.2.3.4;secret=x', { ip: '1.2.3.4' }),
    fwd(';;for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('for=1.2.3.4,', { ip: '1.2.3.4' }),
    fwd('for=1.2.3.4;proto=https', { ip: UNTRUSTED, protocol: 'http' }, UNTRUSTED),
    // Regression: a client's broken Forwarded, with the proxy's element appended, used to be
    // dropped whole, so request.ip became the proxy's own address.
    fwd('x, for=1.2.3.4;proto=https', { ip: '1.2.3.4', ips: [TRUSTED, '1.2.3.4'], protocol: 'https' }),
    fwd('for=", for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('x, for=10.0.0.2, for=1.2.3.4;proto=https, , ', { ip: '1.2.3.4', protocol: 'https' }),
    fwd('for="a, b", for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('x="a, b, for=1.2.3.4"', { ip: TRUSTED }),
    fwd('for=a;for=b, for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('for="[::1", for="[2001:db8::7]:443";host=pub.example', { ip: '2001:db8::7', host: 'pub.example' }),
    fwd('for=6.6.6.6, x, for=1.2.3.4', { ip: '1.2.3.4' }),
    fwd('junk, for=10.0.0.3, for=10.0.0.2', { ip: '10.0.0.3', ips: [TRUSTED, '10.0.0.2', '10.0.0.3'] }),
    fwd('junk, ' + Array.from({ length: 40 }, () => 'for=10.0.0.5').join(', '), { ip: '10.0.0.5' }),
    fwd('for=1.2.3.4, x="', { ip: TRUSTED }),
    { name: 'Forwarded: a broken part is still a 400 in strict mode', setup: 'fwdStrict', headers: { forwarded: 'x, for=1.2.3.4' }, want: { status: 400, code: 'FST_ERR_PROXY_FIX_MALFORMED_HEADER' } },
    { name: 'Forwarded mode ignores X-Forwarded-For', setup: 'fwd', headers: { 'x-forwarded-for': '1.2.3.4' }, want: { ip: TRUSTED } },
    { name: 'X-Forwarded mode ignores a Forwarded header the proxy passed through', setup: 'list', headers: { forwarded: 'for=1.2.3.4;proto=https' }, want: { ip: TRUSTED, protocol: 'http' } }
  ]))
})

done(31, 'forwarded-salvage')
