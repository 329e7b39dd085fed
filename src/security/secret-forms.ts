/**
 * The spellings a secret can take on its way out: as typed, JSON-escaped, base64 and base64url
 * at each of the three byte alignments (a secret inside a larger base64 stream, such as the
 * base64 of a whole `.env`), hex in both cases, colon-separated hex (openssl's key dumps, for
 * key numbers) and percent-encoded. The redactor matches windows of these, so only what is
 * known from the secret alone belongs here: characters that also depend on neighbouring bytes
 * are left out.
 */

/** A text secret (token, key, password) or binary key material (a private key's numbers). */
export type Secret = string | Uint8Array;

export interface SecretForm {
  text: string;
  /** A base64 alphabet form: its edge characters mix in neighbouring bytes (see `edgeChars`). */
  base64: boolean;
}

export function formsOf(secret: Secret): SecretForm[] {
  const forms: SecretForm[] = [];
  const add = (text: string, base64 = false) => {
    if (text.length > 0) forms.push({ text, base64 });
  };
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (typeof secret === 'string') {
    add(secret);
    const json = JSON.stringify(secret).slice(1, -1);
    if (json !== secret) add(json);
    for (const encoded of percentForms(secret)) add(encoded);
  }
  for (let alignment = 0; alignment < 3; alignment++) {
    const b64 = alignedBase64(bytes, alignment);
    add(b64, true);
    const url = b64.replace(/\+/g, '-').replace(/\//g, '_');
    if (url !== b64) add(url, true);
  }
  const hex = bytes.toString('hex');
  add(hex);
  add(hex.toUpperCase());
  const pairs = hex.match(/../g) ?? [];
  if (typeof secret !== 'string') {
    // Key numbers as openssl prints them; for text secrets this spelling is not worth its false hits.
    add(pairs.join(':'));
    add(pairs.join(':').toUpperCase());
  }
  add(pairs.map((p) => `%${p.toUpperCase()}`).join(''));
  add(pairs.map((p) => `%${p}`).join(''));
  return forms;
}

/**
 * The base64 characters that encode only the secret's bits when the secret starts `alignment`
 * bytes past a 3-byte boundary of the stream. Character i carries bits [6i, 6i+6) of the stream;
 * it is kept when all of them belong to the secret.
 */
function alignedBase64(bytes: Buffer, alignment: number): string {
  const stream = Buffer.concat([Buffer.alloc(alignment), bytes]);
  const encoded = stream.toString('base64');
  const first = Math.ceil((8 * alignment) / 6);
  const end = Math.floor((8 * (alignment + bytes.length)) / 6);
  return end > first ? encoded.slice(first, end) : '';
}

/** encodeURIComponent, the stricter RFC 3986 spelling (Python's quote), and lower-case escapes. */
function percentForms(secret: string): string[] {
  let component: string;
  try {
    component = encodeURIComponent(secret);
  } catch {
    return []; // a lone surrogate: no percent form exists
  }
  const strict = component.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const all = new Set([component, strict, component.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), strict.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())]);
  all.delete(secret);
  return [...all];
}
