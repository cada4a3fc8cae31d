// drop-prefixes.test.ts: prefix specs → verdicts, placeholders, errors, and the compiled matcher.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DROP_PREFIXES, parseDropPrefixes, PrefixMatcher } from '../../agent/engine/drop-prefixes';

describe('parseDropPrefixes', () => {
  it('defaults: calico-packet audit (Log does not terminate), calico-drop drop, calico-drop <action> auto', () => {
    expect(DEFAULT_DROP_PREFIXES).toEqual([
      { template: 'calico-packet:', verdict: 'audit' },
      { template: 'calico-drop:', verdict: 'drop' },
      { template: 'calico-drop <action>:', verdict: 'auto' },
    ]);
  });
  it('parses TEMPLATE=VERDICT, default drop, trims, splits at the last "="', () => {
    const r = parseDropPrefixes(['calico-packet:=drop', ' my-drop: ', 'a=b:=audit']);
    expect(r.errors).toEqual([]);
    expect(r.prefixes).toEqual([
      { template: 'calico-packet:', verdict: 'drop' },
      { template: 'my-drop:', verdict: 'drop' },
      { template: 'a=b:', verdict: 'audit' },
    ]);
  });
  it('reports every bad spec and keeps the good ones', () => {
    const r = parseDropPrefixes([
      'ok:',
      '=drop',
      'x:=maybe',
      'p <bogus>:',
      'p <tier',
      'q:=auto',
      'ok:',
      'has IN= in it',
      'y'.repeat(200),
      'a <tier><kind>:',
    ]);
    expect(r.prefixes.map((p) => p.template)).toEqual(['ok:']);
    expect(r.errors).toHaveLength(9);
    expect(r.errors.join('\n')).toMatch(/empty prefix/);
    expect(r.errors.join('\n')).toMatch(/verdict must be drop, audit or auto/);
    expect(r.errors.join('\n')).toMatch(/unknown placeholder <bogus>/);
    expect(r.errors.join('\n')).toMatch(/unclosed/);
    expect(r.errors.join('\n')).toMatch(/auto needs an <action>/);
    expect(r.errors.join('\n')).toMatch(/configured twice/);
    expect(r.errors.join('\n')).toMatch(/separator/);
  });
});

describe('PrefixMatcher', () => {
  const m = new PrefixMatcher(
    parseDropPrefixes([
      ...['calico-packet:=audit', 'calico-drop:=drop', 'calico-drop <action>:=auto'],
      'calico-packet %t %k %p:=drop',
      'np <namespace/name>:=audit',
      'nm <name>=drop',
    ]).prefixes,
  );
  it('plain prefixes match the text the kernel printed, trailing space or not', () => {
    expect(m.match('calico-packet: ')).toMatchObject({ verdict: 'audit', prefix: { template: 'calico-packet:' } });
    expect(m.match('calico-drop:')).toMatchObject({ verdict: 'drop' });
    expect(m.match('calico-drop')).toBeUndefined();
    expect(m.match('xcalico-drop: ')).toBeUndefined();
  });
  it("Felix's %t %k %p spelling captures the policy", () => {
    expect(m.match('calico-packet default gnp deny-all: ')).toEqual({
      prefix: { template: 'calico-packet %t %k %p:', verdict: 'drop' },
      verdict: 'drop',
      policy: 'default gnp deny-all',
    });
  });
  it('<namespace/name> and a template without a colon', () => {
    expect(m.match('np team-a/deny-db: ')).toMatchObject({ policy: 'team-a/deny-db', verdict: 'audit' });
    expect(m.match('nm foo ')).toMatchObject({ policy: 'foo' });
  });
  it('<action> sets the verdict: ACCEPT → audit, anything else → drop', () => {
    expect(m.match('calico-drop LOG-and-ACCEPT: ')).toMatchObject({ verdict: 'audit' });
    expect(m.match('calico-drop LOG-and-DROP: ')).toMatchObject({ verdict: 'drop' });
    expect(m.match('calico-drop LOG-and-ACCEPT: ')?.policy).toBeUndefined();
  });
  it('a placeholder never spans a space, and literals must match all the way', () => {
    expect(m.match('calico-packet default gnp deny all: ')).toBeUndefined();
    expect(m.match('calico-packet default gnp: ')).toBeUndefined();
  });
  it('a prefix cut by iptables at 29 characters still matches, with a partial policy', () => {
    const raw = 'calico-packet default gnp ns1/a-very-long-policy: '.slice(0, 29);
    expect(raw).toHaveLength(29);
    expect(m.match(raw)).toMatchObject({ verdict: 'drop', truncated: true, policy: 'default gnp ns1' });
    // the same text at another length is not a cut prefix
    expect(m.match(raw.slice(0, 27))).toBeUndefined();
  });
  it('size counts both kinds', () => {
    expect(m.size).toBe(6);
  });
  it('matchAt(text, from, to) gives match(text.slice(from, to)), line after line, hits and misses mixed', () => {
    const fresh = new PrefixMatcher(DEFAULT_DROP_PREFIXES);
    const raws = [
      'calico-drop: ',
      'calico-drop:',
      'calico-drop:  ',
      'calico-drop',
      'calico-drop:x',
      'calico-packet: ',
      'calico-drop: ',
      'calico-drop LOG-and-ACCEPT: ',
      'calico-drop: ',
      'xcalico-drop: ',
      'calico-drop: ',
      '',
      ' ',
      'calico-packet default gnp ns1/a-very-long-policy: '.slice(0, 29),
      'calico-packet default gnp deny-all: ',
      'calico-drop: ',
      'np team-a/deny-db: ',
      'calico-packet: ',
    ];
    for (const matcher of [fresh, m])
      for (const raw of [...raws, ...[...raws].reverse()]) {
        const line = `<4>[ 1.000000] ${raw}IN=eth0 OUT=`;
        const from = line.indexOf('] ') + 2;
        const to = from + raw.length;
        expect(matcher.matchAt(line, from, to), JSON.stringify(raw)).toEqual(matcher.match(line.slice(from, to)));
      }
  });
  it('carries: a message that starts like a configured prefix (the literal before any placeholder), or contains one', () => {
    const c = new PrefixMatcher(
      parseDropPrefixes(['calico-drop:=drop', 'cali-drop <tier> <kind> <policy>:=drop', '<tier> x:=drop']).prefixes,
    );
    expect(c.carries('calico-drop: logging suppressed')).toBe(true);
    expect(c.carries('cali-drop default np shop/den')).toBe(true);
    expect(c.carries('eth0: link up')).toBe(false);
    // A template starting with a placeholder has no literal head: it cannot be told from chatter.
    expect(c.carries('t1 x: IN=')).toBe(false);
    expect(c.carries('May 1 host kernel: calico-drop: IN=', true)).toBe(true);
    expect(c.carries('May 1 host kernel: calico-drop: IN=')).toBe(false);
  });
});
