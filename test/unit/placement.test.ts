// Replica placement for StandardClass (3 copies, ≥ 2 regions, write quorum 2) and the
// read order of replicas.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { placeForRead, placeReplicas, placeStandard, type PlacementCandidate } from '../../shared/placement/index.ts';

const b = (id: string, region: string, rttMs: number | null, extra: Partial<PlacementCandidate> = {}): PlacementCandidate => ({
  id,
  region,
  healthy: true,
  state: 'active',
  rttMs,
  ...extra,
});

describe('placeStandard', () => {
  test('three healthy backends over two regions: all three, fastest first, write quorum 2', () => {
    assert.deepEqual(placeStandard([b('a', 'eu-west', 30), b('b', 'eu-west', 10), b('c', 'us-east', 20)]), {
      ok: true,
      targets: ['b', 'c', 'a'],
      writeQuorum: 2,
    });
  });

  test('prefers the lowest RTT among more candidates than needed', () => {
    const r = placeStandard([b('slow', 'eu', 90), b('a', 'eu', 5), b('b', 'us', 7), b('c', 'eu', 6), b('d', 'us', 50)]);
    assert.deepEqual(r, { ok: true, targets: ['a', 'c', 'b'], writeQuorum: 2 });
  });

  test('when the fastest three share a region, the slowest of them gives way to the fastest other region', () => {
    const r = placeStandard([b('e1', 'eu', 1), b('e2', 'eu', 2), b('e3', 'eu', 3), b('u1', 'us', 40), b('u2', 'us', 30)]);
    assert.deepEqual(r, { ok: true, targets: ['e1', 'e2', 'u2'], writeQuorum: 2 });
  });

  test('regions compare case-insensitively', () => {
    const r = placeStandard([b('a', 'EU-West-1', 1), b('b', 'eu-west-1', 2), b('c', 'eu-west-1 ', 3)]);
    assert.equal(r.ok, false);
  });

  test('equal or unknown RTTs break ties by id, whatever the input order', () => {
    const set = [b('c', 'eu', null), b('a', 'us', 5), b('d', 'eu', 5), b('b', 'eu', null)];
    const expected = { ok: true, targets: ['a', 'd', 'b'], writeQuorum: 2 };
    assert.deepEqual(placeStandard(set), expected);
    assert.deepEqual(placeStandard([...set].reverse()), expected);
  });

  test('unhealthy and draining backends are never chosen', () => {
    const r = placeStandard([
      b('sick', 'eu', 1, { healthy: false }),
      b('leaving', 'us', 1, { state: 'draining' }),
      b('a', 'eu', 10),
      b('b', 'us', 20),
      b('c', 'eu', 30),
    ]);
    assert.deepEqual(r, { ok: true, targets: ['a', 'b', 'c'], writeQuorum: 2 });
  });

  test('refuses with precise reasons when fewer than three backends are usable', () => {
    const r = placeStandard([b('a', 'eu', 1), b('b', 'us', 1), b('c', 'us', 1, { healthy: false }), b('d', 'eu', 1, { state: 'draining' })]);
    assert.deepEqual(r, {
      ok: false,
      reasons: ['needs 3 distinct healthy active backends, only 2 available', 'excluded: c is unhealthy; d is draining'],
    });
  });

  test('refuses when all usable backends are in one region, naming it', () => {
    const r = placeStandard([b('a', 'eu-west', 1), b('b', 'eu-west', 2), b('c', 'eu-west', 3), b('d', 'us-east', 4, { healthy: false })]);
    assert.deepEqual(r, {
      ok: false,
      reasons: ['needs backends in at least 2 regions, healthy active backends span 1 (eu-west)', 'excluded: d is unhealthy'],
    });
  });

  test('a backend listed twice counts once', () => {
    const r = placeStandard([b('a', 'eu', 1), b('a', 'eu', 1), b('b', 'us', 2)]);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.reasons, ['needs 3 distinct healthy active backends, only 2 available']);
  });

  test('no backends at all is refused, not placed', () => {
    assert.deepEqual(placeStandard([]), {
      ok: false,
      reasons: ['needs 3 distinct healthy active backends, only 0 available', 'needs backends in at least 2 regions, healthy active backends span 0 (none)'],
    });
  });
});

describe('placeReplicas', () => {
  test('honours a class needing three regions by swapping in the fastest backend of each missing region', () => {
    const r = placeReplicas([b('e1', 'eu', 1), b('e2', 'eu', 2), b('u1', 'us', 3), b('u2', 'us', 4), b('a1', 'ap', 50)], {
      copies: 3,
      writeQuorum: 2,
      minRegions: 3,
    });
    assert.deepEqual(r, { ok: true, targets: ['e1', 'u1', 'a1'], writeQuorum: 2 });
  });

  test('refuses an inconsistent class', () => {
    assert.equal(placeReplicas([b('a', 'eu', 1)], { copies: 1, writeQuorum: 2, minRegions: 1 }).ok, false);
  });
});

describe('placeForRead', () => {
  test('orders replicas healthy first, then lowest RTT, then backend id; skips blobs that are not ok', () => {
    const blobs = [
      { backendId: 'far', state: 'ok' },
      { backendId: 'down', state: 'ok' },
      { backendId: 'near', state: 'ok' },
      { backendId: 'pending', state: 'writing' },
      { backendId: 'unknown', state: 'ok' },
      { backendId: 'twin', state: 'ok' },
    ];
    const health = new Map([
      ['far', { healthy: true, rttMs: 80 }],
      ['down', { healthy: false, rttMs: 1 }],
      ['near', { healthy: true, rttMs: 5 }],
      ['pending', { healthy: true, rttMs: 1 }],
      ['twin', { healthy: true, rttMs: 80 }],
    ]);
    assert.deepEqual(
      placeForRead(blobs, health).map((x) => x.backendId),
      ['near', 'far', 'twin', 'down', 'unknown'],
    );
  });

  test('accepts health as a plain record and keeps blobs without a state', () => {
    const out = placeForRead([{ backendId: 'x' }, { backendId: 'y' }], { x: { healthy: true, rttMs: 9 }, y: { healthy: true, rttMs: 3 } });
    assert.deepEqual(out, [{ backendId: 'y' }, { backendId: 'x' }]);
  });
});
