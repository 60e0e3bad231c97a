import { test } from 'tap'
import { parseForwarded, forwardedTail, MAX_TAIL, type ForwardedElement } from '../lib/core/forwarded'
import { MAX_ELEMENT, MAX_ENTRIES, pick, RightCursor, trimOws } from '../lib/core/list'

/** The entries a RightCursor visits, nearest first: at most `max + 1`. */
function rightEntries (value: string, max: number): string[] {
  const out: string[] = []
  const c = new RightCursor(value)
  while (out.length <= max && c.next()) out.push(c.text())
  return out
}

test('MAX_ENTRIES', async (t) => {
  t.equal(MAX_ENTRIES, 32)
})

test('rightEntries: nearest hop first, empty entries dropped, OWS trimmed', async (t) => {
  const table: Array<[string, number, string[]]> = [
    ['a, b, c', 32, ['c', 'b', 'a']],
    ['a,b,c', 32, ['c', 'b', 'a']],
    ['1.2.3.4', 32, ['1.2.3.4']],
    ['a,,b', 32, ['b', 'a']],
    [',a,', 32, ['a']],
    [' \ta\t ,  b ', 32, ['b', 'a']],
    ['a, b c ,d', 32, ['d', 'b c', 'a']], // inner whitespace is kept
    ['a,\r,b', 32, ['b', '\r', 'a']], // only SP and HTAB are OWS
    ['', 32, []],
    [' ', 32, []],
    [',,, , \t,', 32, []],
    // not quote-aware: X-Forwarded-* lists carry no quoted strings
    ['x, "y,z"', 32, ['z"', '"y', 'x']]
  ]
  for (const [value, max, expected] of table) t.same(rightEntries(value, max), expected, JSON.stringify(value))
})

test('rightEntries: returns at most max + 1 entries', async (t) => {
  const table: Array<[string, number, string[]]> = [
    ['a,b,c,d', 2, ['d', 'c', 'b']],
    ['a,b,c', 2, ['c', 'b', 'a']],
    ['a,b,c', 0, ['c']],
    ['a,,,b,,,c', 1, ['c', 'b']],
    ['a,b,c', 1, ['c', 'b']]
  ]
  for (const [value, max, expected] of table) t.same(rightEntries(value, max), expected, `${value} max ${max}`)
})

test('rightEntries: a 16 KiB header', async (t) => {
  const header = '1.2.3.4,'.repeat(2048) + '5.6.7.8'
  t.equal(header.length, 16 * 1024 + 7)
  const list = rightEntries(header, MAX_ENTRIES)
  t.equal(list.length, MAX_ENTRIES, 'the cursor stops at the element cap')
  t.equal(list[0], '5.6.7.8')
  t.equal(list[MAX_ENTRIES - 1], '1.2.3.4')
  t.same(rightEntries(','.repeat(16 * 1024), MAX_ENTRIES), [])
  const commas = new RightCursor('1.2.3.4' + ','.repeat(16 * 1024))
  t.equal(commas.next(), false, 'empty elements count toward the cap: bare commas end the walk')
  t.equal(commas.overflow, true)
  const padded = new RightCursor('9.9.9.9' + ','.repeat(40) + '1.1.1.1')
  t.equal(padded.next(), true)
  t.equal(padded.text(), '1.1.1.1')
  t.equal(padded.next(), false, 'an entry behind 32 empty elements is never reached')
  t.equal(padded.overflow, true)
  t.same(rightEntries(' '.repeat(16 * 1024) + 'a', MAX_ENTRIES), [' '.repeat(16 * 1024) + 'a'], 'an element over MAX_ELEMENT is not trimmed (and parses as nothing)')
  t.same(rightEntries(' '.repeat(MAX_ELEMENT - 1) + 'a', MAX_ENTRIES), ['a'])
})

test('rightEntries: the nth entry from the right, none when the list is shorter', async (t) => {
  const table: Array<[string, number, string | undefined]> = [
    ['a, b, c', 1, 'c'],
    ['a, b, c', 2, 'b'],
    ['a, b, c', 3, 'a'],
    ['a, b, c', 4, undefined], // too few values: no fallback to the leftmost
    ['a,,b', 2, 'a'],
    [' a , ', 1, 'a'],
    [' a , ', 2, undefined],
    ['', 1, undefined],
    [',,', 1, undefined]
  ]
  for (const [value, n, expected] of table) {
    const list = rightEntries(value, n)
    t.equal(list.length >= n ? list[n - 1] : undefined, expected, `${JSON.stringify(value)} #${n}`)
  }
})

test('parseForwarded: RFC 7239 examples and valid syntax', async (t) => {
  const table: Array<[string, ForwardedElement[]]> = [
    ['for=192.0.2.60;proto=http;by=203.0.113.43', [{ for: '192.0.2.60', proto: 'http', by: '203.0.113.43' }]],
    ['for="[2001:db8:cafe::17]:4711"', [{ for: '[2001:db8:cafe::17]:4711' }]],
    ['for="_gazonk"', [{ for: '_gazonk' }]],
    ['For="[2001:db8:cafe::17]:4711"', [{ for: '[2001:db8:cafe::17]:4711' }]],
    ['for=192.0.2.43, for=198.51.100.17', [{ for: '192.0.2.43' }, { for: '198.51.100.17' }]],
    ['for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown', [{ for: '192.0.2.43' }, { for: '[2001:db8:cafe::17]' }, { for: 'unknown' }]],
    ['for=unknown, for=_hidden', [{ for: 'unknown' }, { for: '_hidden' }]],
    ['FOR=a;PROTO=https;HoSt=example.com;BY=b', [{ for: 'a', proto: 'https', host: 'example.com', by: 'b' }]],
    ['host="example.com:8080"', [{ host: 'example.com:8080' }]],
    ['proto=HTTPS', [{ proto: 'HTTPS' }]], // values keep their case
    // quoted strings and escapes
    ['for="a\\"b"', [{ for: 'a"b' }]],
    ['for="a\\\\b"', [{ for: 'a\\b' }]],
    ['for="\\a\\b"', [{ for: 'ab' }]],
    ['for=""', [{ for: '' }]],
    ['for="a b"', [{ for: 'a b' }]],
    ['for="a\tb"', [{ for: 'a\tb' }]],
    ['for="a,b;c=d"', [{ for: 'a,b;c=d' }]],
    ['for="\u00e9"', [{ for: '\u00e9' }]], // obs-text
    // unknown parameters are ignored
    ['for=a;ext=1;foo="bar"', [{ for: 'a' }]],
    ['ext=1', [{}]],
    ['ext=1;ext=2', [{}]],
    ['secret="x", for=b', [{}, { for: 'b' }]],
    // empty elements, empty pairs and OWS
    [',,for=a,,', [{ for: 'a' }]],
    [' for=a , for=b ', [{ for: 'a' }, { for: 'b' }]],
    ['for=a;', [{ for: 'a' }]],
    ['for=a; ', [{ for: 'a' }]],
    ['for=a ; proto=http', [{ for: 'a', proto: 'http' }]],
    ['for=a;;proto=http', [{ for: 'a', proto: 'http' }]],
    [';for=a', [{ for: 'a' }]],
    ['for=a;,for=b', [{ for: 'a' }, { for: 'b' }]],
    [';', []],
    [';;, ;', []],
    ['', []],
    ['   ', []],
    [',', []],
    // the same parameter in different elements is fine
    ['for=a;proto=http, for=b;proto=https', [{ for: 'a', proto: 'http' }, { for: 'b', proto: 'https' }]]
  ]
  for (const [value, expected] of table) t.same(parseForwarded(value, MAX_ENTRIES), expected, JSON.stringify(value))
})

test('parseForwarded: malformed headers are refused whole', async (t) => {
  const table: string[] = [
    // duplicate parameter in one element (section 4)
    'for=a;for=b',
    'FOR=a;for=b',
    'for=x, for=a;for=b',
    'by=a;by=b',
    'host=a;Host=b',
    'proto=http;Proto=https',
    // quoted strings
    'for="abc',
    'for="abc\\',
    'for="abc\\"',
    'for="a\rb"',
    'for="a\nb"',
    'for="a\u0000b"',
    'for="a\u007fb"',
    'for="a\\\rb"', // an escaped control character
    'for="a\\\u0000b"',
    'for="a"b',
    'for="a" b',
    // syntax
    'for',
    'for;proto=http',
    'for=',
    'for=;proto=http',
    'for= a',
    'for =a',
    '=a',
    'for=a b',
    'for=a=b',
    'for=[::1]', // "[" is not a tchar
    'for=[2001:db8::1]:80',
    'for=1.2.3.4:80', // ":" is not a tchar either
    'host=example.com:8080',
    'for=a,b',
    'f\u00f3r=1',
    'for=\u00e9',
    'for="a",,"b"',
    '"for"=a',
    'for=a\r\n'
  ]
  for (const value of table) t.equal(parseForwarded(value, MAX_ENTRIES), null, JSON.stringify(value))
})

test('parseForwarded: at most 16 pairs per element', async (t) => {
  const pairs = (n: number): string => Array.from({ length: n }, (_, k) => 'p' + k + '=1').join(';')
  t.same(parseForwarded(pairs(15) + ';for=a', MAX_ENTRIES), [{ for: 'a' }])
  t.equal(parseForwarded(pairs(16) + ';for=a', MAX_ENTRIES), null)
  t.equal(parseForwarded(pairs(17), MAX_ENTRIES), null)
  t.same(parseForwarded(pairs(16), MAX_ENTRIES), [{}])
  // the count is per element
  t.same(parseForwarded(pairs(15) + ';for=a, ' + pairs(15) + ';for=b', MAX_ENTRIES), [{ for: 'a' }, { for: 'b' }])
  // empty pairs do not count
  t.same(parseForwarded(';'.repeat(40) + pairs(16), MAX_ENTRIES), [{}])
})

test('parseForwarded: keeps only the last max + 1 elements', async (t) => {
  const header = Array.from({ length: 40 }, (_, k) => 'for=10.0.0.' + k).join(', ')
  const list = parseForwarded(header, MAX_ENTRIES)
  t.equal(list?.length, MAX_ENTRIES + 1)
  t.same(list?.[0], { for: '10.0.0.7' })
  t.same(list?.[MAX_ENTRIES], { for: '10.0.0.39' })
  t.same(parseForwarded('for=a, for=b, for=c', 0), [{ for: 'c' }])
  t.same(parseForwarded('for=a, for=b, for=c', 1), [{ for: 'b' }, { for: 'c' }])
  t.same(parseForwarded('for=a, for=b, for=c', 2), [{ for: 'a' }, { for: 'b' }, { for: 'c' }])
  // a malformed element inside the last max + 1 still refuses the header ...
  t.equal(parseForwarded(header + ', for=bad;for=dup', MAX_ENTRIES), null)
  // ... but parts before them are never walked, so they are skipped unread, as in X-Forwarded-For
  const skipped = parseForwarded('for=bad;for=dup, ' + header, MAX_ENTRIES)
  t.equal(skipped?.length, MAX_ENTRIES + 1)
  t.same(skipped?.[MAX_ENTRIES], { for: '10.0.0.39' })
  // quoted strings: a comma inside quotes does not split, before or inside the tail
  const quoted = Array.from({ length: 40 }, (_, k) => `for="[2001:db8::${k}]";ext="a,\\"b"`).join(', ')
  const q = parseForwarded(quoted, MAX_ENTRIES)
  t.equal(q?.length, MAX_ENTRIES + 1)
  t.same(q?.[MAX_ENTRIES], { for: '[2001:db8::39]' })
  t.same(q?.[0], { for: '[2001:db8::7]' })
  // empty parts before the tail: fewer elements than max, and a placeholder keeps the signal
  const sparse = parseForwarded('for=1.1.1.1' + ','.repeat(40) + 'for=2.2.2.2', MAX_ENTRIES)
  t.same(sparse, [{}, { for: '2.2.2.2' }])
})

test('trimOws: SP and HTAB only, never CR, LF, NBSP or other Unicode spaces', async (t) => {
  const table: Array<[string, string]> = [
    [' \ta\t ', 'a'],
    ['a', 'a'],
    ['', ''],
    [' \t ', ''],
    ['https\r\n', 'https\r\n'],
    ['\u00a0host\u00a0', '\u00a0host\u00a0'],
    ['\u2003x', '\u2003x'],
    [' a b ', 'a b']
  ]
  for (const [value, expected] of table) t.equal(trimOws(value), expected, JSON.stringify(value))
  t.equal(pick('https\r\n', 1, true), 'https\r\n', 'a single value keeps its CR LF')
  t.equal(pick(' https ', 1, true), 'https')
  t.equal(pick(' , ', 1, true), undefined)
})

test('forwardedTail: at most MAX_ENTRIES segments are read, empty ones included', async (t) => {
  t.same(forwardedTail('for=1.2.3.4, "broken, for=5.6.7.8'), [{ for: '5.6.7.8' }])
  t.same(forwardedTail(',,,,'), [])
  const padded = 'for=9.9.9.9' + ','.repeat(40) + 'for=1.1.1.1'
  t.same(forwardedTail(padded), [{ for: '1.1.1.1' }], 'segments behind the cap are not read')
})

test('bounded reads: an oversized element is returned untrimmed, a Forwarded header is read from its last MAX_TAIL characters', async (t) => {
  const spaces = ' '.repeat(MAX_ELEMENT + 1)
  const c = new RightCursor('1.2.3.4,' + spaces)
  t.equal(c.next(), true)
  t.equal(c.text(), spaces, 'not scanned for OWS: it is longer than any forwarded value')
  t.equal(trimOws(spaces), spaces)
  t.equal(trimOws(' '.repeat(MAX_ELEMENT)), '', 'up to MAX_ELEMENT it is trimmed')
  const good = 'for=10.0.0.1;proto=https, for=10.0.0.2'
  t.same(parseForwarded('x'.repeat(MAX_TAIL) + ', ' + good, 32), [{}, { for: '10.0.0.1', proto: 'https' }, { for: '10.0.0.2' }],
    'parts further left than MAX_TAIL are skipped unread (the walk stops there)')
  t.equal(parseForwarded('a=b;'.repeat(MAX_TAIL), 32), null, 'no whole element within MAX_TAIL: malformed')
  t.same(parseForwarded(' '.repeat(MAX_TAIL - good.length) + good, 32), [{ for: '10.0.0.1', proto: 'https' }, { for: '10.0.0.2' }], 'exactly MAX_TAIL is read whole')
  const quoted = '"\\' + '\\'.repeat(MAX_TAIL) + '", for=10.0.0.3'
  t.same(parseForwarded(quoted, 32), [{}, { for: '10.0.0.3' }], 'a backslash run is counted only within the region')
  t.same(forwardedTail('for="' + 'x'.repeat(MAX_TAIL) + ', for=10.0.0.4'), [{ for: '10.0.0.4' }], 'the salvage reads only the region too')
  t.same(forwardedTail('x'.repeat(MAX_TAIL) + ',"' + ', for=10.0.0.5'), [{ for: '10.0.0.5' }])
})
