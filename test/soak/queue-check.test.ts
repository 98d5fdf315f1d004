// The chaos soak's MpmcQueue check (soak/shared.ts qRecord): producers never run out of values,
// and a duplicate or a lost value is still caught after the sequence wraps its residue window.
import { describe, expect, it } from 'vitest';
import * as S from '../../soak/shared.ts';

function run(opts: { skip?: number; dup?: number; total: number }): string[] {
  const c = new Int32Array(new SharedArrayBuffer(4096 * 4));
  const gen = new Uint8Array(new SharedArrayBuffer(2 * S.Q_WINDOW));
  const bad: string[] = [];
  const rec = (v: number): void => { const r = S.qRecord(gen, c, v); if (r !== undefined) bad.push(r); };
  for (let seq = 0; seq < opts.total; seq++) {
    Atomics.store(c, S.Q_PUSHED + 1, seq); // the producer stores seq + 1 only after its push returns
    if (seq !== opts.skip) rec(S.qValue(1, seq));
    Atomics.store(c, S.Q_PUSHED + 1, seq + 1);
    if (seq === opts.dup) rec(S.qValue(1, seq));
  }
  return bad;
}

describe('soak MpmcQueue generation check', () => {
  const total = 2 * S.Q_WINDOW + 1000;
  it('accepts every value popped once across window wraps', () => {
    expect(run({ total })).toEqual([]);
  });
  it('catches a value popped twice after a wrap', () => {
    expect(run({ total, dup: S.Q_WINDOW + 17 })).toEqual([`mpmc: value 1:${S.Q_WINDOW + 17} popped twice`]);
  });
  it('catches a value never popped when its residue comes round again', () => {
    const bad = run({ total, skip: 123 });
    expect(bad).toHaveLength(1);
    expect(bad[0]).toContain('producer 1 seq 123 never popped (lost)');
  });
  it('rejects a value no producer pushes', () => {
    const c = new Int32Array(new SharedArrayBuffer(4096 * 4));
    const gen = new Uint8Array(new SharedArrayBuffer(S.Q_WINDOW));
    expect(S.qRecord(gen, c, S.qValue(0, 5))).toContain('before producer 0 pushed it');
    expect(S.qRecord(gen, c, (S.Q_MAX_PRODUCERS << 24) | 1)).toContain('which no producer pushes');
  });
});
