// Pure parts of the AI proxy: the shared policy engine, the streaming hold-back guard
// and the SSE framing, on hand-made inputs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, type Policy } from '../../shared/policy/index.ts';
import { createTextGuard } from '../../ai-proxy/streaming/guard.ts';
import { createSseParser, type SseEvent } from '../../ai-proxy/streaming/sse.ts';
import { createDetector } from '../../ai-proxy/detection/index.ts';
import { ipAllowed } from '../../ai-proxy/chain.ts';

describe('policy engine', () => {
  type C = { n: number };
  const policy = (shadow?: boolean): Policy<C> => ({
    shadow,
    rules: [
      { id: 'warn-big', effect: 'warn', when: (c) => c.n > 5 },
      { id: 'deny-huge', effect: 'deny', when: (c) => (c.n > 10 ? 'too big' : false) },
      { id: 'never-reached', effect: 'pause', when: () => true },
    ],
  });

  it('the first enforced deny short-circuits the rules after it', () => {
    const d = evaluate(policy(), { n: 11 });
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'deny-huge');
    assert.deepEqual(d.reasons, ['warn-big', 'too big']);
    assert.deepEqual(d.matches.map((m) => m.rule), ['warn-big', 'deny-huge']);
  });

  it('without a deny the strongest matched effect decides', () => {
    const d = evaluate(policy(), { n: 6 });
    assert.equal(d.effect, 'pause');
    assert.equal(d.rule, 'never-reached');
  });

  it('shadow mode records every match and enforces none', () => {
    const d = evaluate(policy(true), { n: 11 });
    assert.equal(d.effect, 'allow');
    assert.equal(d.shadow, true);
    assert.deepEqual(d.matches.map((m) => [m.rule, m.shadow]), [['warn-big', true], ['deny-huge', true], ['never-reached', true]]);
  });

  it('IP allowlists accept exact addresses, IPv4 CIDRs and IPv4-mapped peers', () => {
    assert.equal(ipAllowed('::ffff:10.1.2.3', ['10.0.0.0/8']), true);
    assert.equal(ipAllowed('192.168.1.9', ['10.0.0.0/8', '192.168.1.9']), true);
    assert.equal(ipAllowed('192.168.1.10', ['192.168.1.0/31']), false);
  });
});

describe('streaming guard', () => {
  const det = createDetector();
  const rev = new Map([['EC2_001', 'i-0123456789abcdef0']]);
  const guard = () =>
    createTextGuard({ scan: (t) => det.scan(t, 'response'), restore: (t) => t.replace(/\bEC2_\d{3}\b/g, (m) => rev.get(m) ?? m), window: 64, maxFindingLength: det.maxFindingLength });
  const feed = async (pieces: string[]) => {
    const g = guard();
    let out = '';
    for (const p of pieces) out += (await g.push(p)).text;
    return out + (await g.flush()).text;
  };

  it('a secret fed one character at a time is redacted whole', async () => {
    const text = 'key: AKIA4QWERTYUIOPASDFG end';
    assert.equal(await feed([...text]), 'key: [REDACTED:secret.aws-access-key] end');
  });

  it('a placeholder fed one character at a time is restored', async () => {
    assert.equal(await feed([...'on EC2_001, fine']), 'on i-0123456789abcdef0, fine');
  });

  it('plain text is released as it comes, minus the hold-back window', async () => {
    const g = guard();
    const out = (await g.push('word '.repeat(40))).text;
    assert.ok(out.length >= 200 - 64 - 5 && out.length < 200, `released ${out.length}`);
  });

  it('a PEM private key is held from its BEGIN line and redacted whole', async () => {
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${'MIIEowIBAAKCAQEA1234567890abcdefABCDEF+/'.repeat(8)}\n-----END RSA PRIVATE KEY-----`;
    const g = guard();
    let out = '';
    for (let i = 0; i < pem.length; i += 7) out += (await g.push(pem.slice(i, i + 7))).text;
    out += (await g.push(' done')).text + (await g.flush()).text;
    assert.ok(!out.includes('MIIE'), out);
    assert.match(out, /^\[REDACTED:secret\.[a-z-]+\] done$/);
  });
});

describe('SSE framing', () => {
  it('events split anywhere, CRLF line ends and split UTF-8 characters are reassembled', () => {
    const raw = Buffer.from('event: a\r\ndata: {"t":"é€"}\r\n\r\ndata: [DONE]\n\n', 'utf8');
    const got: SseEvent[] = [];
    const p = createSseParser((e) => got.push(e));
    for (let i = 0; i < raw.length; i++) p.push(raw.subarray(i, i + 1));
    p.end();
    assert.deepEqual(got.map((e) => [e.event, e.data]), [['a', '{"t":"é€"}'], [undefined, '[DONE]']]);
  });
});
