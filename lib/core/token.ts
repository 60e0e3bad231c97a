// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const SYMBOLS = "!#$%&'*+.^_`|~"

/** The tchar class for a regular expression, with letters as given (`A-Za-z`, or `a-z` for a lowercased value). */
export function tcharClass (letters: string): string {
  return `[${SYMBOLS}0-9${letters}-]`
}

/** A token, as a JSON-schema pattern and as a RegExp: header names, media types. */
export const TOKEN_PATTERN = `^${tcharClass('A-Za-z')}+$`
export const TOKEN = new RegExp(TOKEN_PATTERN)

const TCHAR = new Uint8Array(128)
for (let c = 0; c < 128; c++) TCHAR[c] = TOKEN.test(String.fromCharCode(c)) ? 1 : 0

export function isTchar (c: number): boolean {
  return c < 128 && TCHAR[c] === 1
}
