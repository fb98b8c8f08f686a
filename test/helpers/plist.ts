/**
 * A tiny, strict reader for XML property lists (Apple's PropertyList-1.0
 * DTD), enough to parse back what install-service writes: anything outside
 * the format (unknown elements, stray text, bad entities, a dict key without
 * a value) throws instead of being skipped. No dependency: none is installed.
 */

export type PlistValue = string | number | boolean | Date | PlistValue[] | { [key: string]: PlistValue };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw new Error(`plist: ${what} at offset ${this.pos}: ${JSON.stringify(this.text.slice(this.pos, this.pos + 40))}`);
  }

  /** Whitespace and comments between elements. */
  skip(): void {
    for (;;) {
      const ws = /^\s+/.exec(this.text.slice(this.pos));
      if (ws !== null) this.pos += ws[0].length;
      if (this.text.startsWith('<!--', this.pos)) {
        const end = this.text.indexOf('-->', this.pos + 4);
        if (end === -1) this.fail('unterminated comment');
        this.pos = end + 3;
        continue;
      }
      return;
    }
  }

  /** `<name attrs>`, `<name/>`; returns the name and whether it closed itself. */
  open(): { name: string; empty: boolean; attrs: string } {
    this.skip();
    const m = /^<([A-Za-z]+)((?:\s+[A-Za-z]+="[^"]*")*)\s*(\/?)>/.exec(this.text.slice(this.pos));
    if (m === null) this.fail('expected an element');
    this.pos += m[0].length;
    return { name: m[1] as string, attrs: (m[2] as string).trim(), empty: m[3] === '/' };
  }

  close(name: string): void {
    this.skip();
    const tag = `</${name}>`;
    if (!this.text.startsWith(tag, this.pos)) this.fail(`expected ${tag}`);
    this.pos += tag.length;
  }

  peekClose(): boolean {
    this.skip();
    return this.text.startsWith('</', this.pos);
  }

  /** Character data up to the closing tag, entities decoded; no markup allowed inside. */
  textUntil(name: string): string {
    const end = this.text.indexOf(`</${name}>`, this.pos);
    if (end === -1) this.fail(`unterminated <${name}>`);
    const raw = this.text.slice(this.pos, end);
    if (raw.includes('<')) this.fail(`markup inside <${name}>`);
    this.pos = end + name.length + 3;
    return raw.replace(/&([^;\s]*);?/g, (whole, entity: string) => {
      if (!whole.endsWith(';')) this.fail(`bare & in <${name}>`);
      if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
      if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
      const decoded = ENTITIES[entity];
      if (decoded === undefined) this.fail(`unknown entity &${entity};`);
      return decoded;
    });
  }

  value(): PlistValue {
    const { name, empty } = this.open();
    if (empty) {
      if (name === 'true') return true;
      if (name === 'false') return false;
      if (name === 'dict') return {};
      if (name === 'array') return [];
      if (name === 'string') return '';
      this.fail(`<${name}/> is not a plist value`);
    }
    switch (name) {
      case 'string':
        return this.textUntil('string');
      case 'integer': {
        const t = this.textUntil('integer').trim();
        if (!/^[+-]?\d+$/.test(t)) this.fail(`bad integer ${t}`);
        return Number.parseInt(t, 10);
      }
      case 'real': {
        const t = this.textUntil('real').trim();
        const n = Number(t);
        if (t === '' || Number.isNaN(n)) this.fail(`bad real ${t}`);
        return n;
      }
      case 'date':
        return new Date(this.textUntil('date').trim());
      case 'array': {
        const items: PlistValue[] = [];
        while (!this.peekClose()) items.push(this.value());
        this.close('array');
        return items;
      }
      case 'dict': {
        const out: { [key: string]: PlistValue } = {};
        while (!this.peekClose()) {
          const key = this.open();
          if (key.name !== 'key' || key.empty) this.fail('expected <key>');
          const k = this.textUntil('key');
          if (Object.hasOwn(out, k)) this.fail(`duplicate key ${k}`);
          if (this.peekClose()) this.fail(`key ${k} has no value`);
          out[k] = this.value();
        }
        this.close('dict');
        return out;
      }
      default:
        return this.fail(`unknown element <${name}>`);
    }
  }
}

export function parsePlist(text: string): PlistValue {
  const r = new Reader(text);
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>/.exec(text);
  if (decl === null) return r.fail('missing XML declaration');
  r.pos = decl[0].length;
  r.skip();
  const doctype = /^<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN" "http:\/\/www\.apple\.com\/DTDs\/PropertyList-1\.0\.dtd">/.exec(text.slice(r.pos));
  if (doctype === null) return r.fail('missing plist DOCTYPE');
  r.pos += doctype[0].length;
  const root = r.open();
  if (root.name !== 'plist' || root.attrs !== 'version="1.0"' || root.empty) r.fail('expected <plist version="1.0">');
  const value = r.value();
  r.close('plist');
  r.skip();
  if (r.pos !== text.length) r.fail('trailing content');
  return value;
}
