// FrameWriter: frames come out byte-exact, in order, with large DATA payloads passed by reference and header blocks
// split into HEADERS + CONTINUATION at the peer's frame size.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameWriter } from '../../src/http2/frame-writer.ts';
import { HpackEncoder } from '../../src/http2/hpack-encoder.ts';
import { HpackDecoder } from '../../src/http2/hpack-decoder.ts';
import { FrameFlag, FrameType } from '../../src/http2/frames.ts';

interface ParsedFrame {
  length: number;
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function parse(bytes: Buffer): ParsedFrame[] {
  const out: ParsedFrame[] = [];
  let p = 0;
  while (p < bytes.length) {
    const length = bytes.readUIntBE(p, 3);
    out.push({ length, type: bytes[p + 3]!, flags: bytes[p + 4]!, streamId: bytes.readUInt32BE(p + 5) & 0x7fffffff, payload: bytes.subarray(p + 9, p + 9 + length) });
    p += 9 + length;
  }
  assert.equal(p, bytes.length, 'frames end exactly at the end of the output');
  return out;
}

describe('FrameWriter', () => {
  it('writes control frames byte-exact and counts them', () => {
    const w = new FrameWriter();
    w.settings([3, 100, 4, 65_536]);
    w.settingsAck();
    w.ping(true, Buffer.from('abcdefgh'), 0);
    w.rstStream(7, 8);
    w.windowUpdate(0, 983_041);
    w.goaway(9, 11, 'calm');
    assert.equal(w.frames, 6);
    assert.equal(w.controlFrames, 6);
    const bytes = Buffer.concat(w.take());
    assert.equal(w.frames, 0, 'take() resets the counts');
    assert.ok(w.empty);
    const f = parse(bytes);
    assert.deepEqual(f.map((x) => [x.type, x.flags, x.streamId, x.length]), [
      [FrameType.SETTINGS, 0, 0, 12], [FrameType.SETTINGS, FrameFlag.ACK, 0, 0], [FrameType.PING, FrameFlag.ACK, 0, 8],
      [FrameType.RST_STREAM, 0, 7, 4], [FrameType.WINDOW_UPDATE, 0, 0, 4], [FrameType.GOAWAY, 0, 0, 12],
    ]);
    assert.deepEqual([...f[0]!.payload], [0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]);
    assert.equal(f[2]!.payload.toString(), 'abcdefgh');
    assert.equal(f[3]!.payload.readUInt32BE(0), 8);
    assert.equal(f[4]!.payload.readUInt32BE(0), 983_041);
    assert.equal(f[5]!.payload.readUInt32BE(0), 9);
    assert.equal(f[5]!.payload.readUInt32BE(4), 11);
    assert.equal(f[5]!.payload.subarray(8).toString(), 'calm');
  });

  it('copies small DATA payloads and passes large ones by reference, in order', () => {
    const w = new FrameWriter();
    const small = Buffer.from('tiny');
    const large = Buffer.alloc(5000, 7);
    w.data(1, small, 0, small.length, false);
    w.data(1, large, 0, large.length, false);
    w.data(1, Buffer.alloc(0), 0, 0, true);
    assert.equal(w.pendingBytes, 9 + 4 + 9 + 5000 + 9);
    const segments = w.take();
    assert.ok(segments.some((s) => s.buffer === large.buffer), 'the large payload is not copied');
    const f = parse(Buffer.concat(segments));
    assert.deepEqual(f.map((x) => [x.type, x.flags, x.length]), [[0, 0, 4], [0, 0, 5000], [0, FrameFlag.END_STREAM, 0]]);
    assert.equal(f[0]!.payload.toString(), 'tiny');
    assert.ok(f[1]!.payload.equals(large));
  });

  it('splits a header block over the peer frame size into HEADERS + CONTINUATION that decode to the fields', () => {
    const w = new FrameWriter();
    const encoder = new HpackEncoder();
    const fields = [':status', '200', 'x-big', 'v'.repeat(40_000), 'x-after', 'tail'];
    w.headers(3, encoder, fields, 0, fields.length, true, 16_384);
    const f = parse(Buffer.concat(w.take()));
    assert.ok(f.length >= 3, `frames: ${f.length}`);
    assert.equal(f[0]!.type, FrameType.HEADERS);
    assert.equal(f[0]!.flags, FrameFlag.END_STREAM, 'END_STREAM on HEADERS, END_HEADERS only on the last frame');
    for (const c of f.slice(1)) assert.equal(c.type, FrameType.CONTINUATION);
    assert.equal(f.at(-1)!.flags, FrameFlag.END_HEADERS);
    for (const x of f) assert.ok(x.length <= 16_384 && x.streamId === 3);
    const block = Buffer.concat(f.map((x) => x.payload));
    const out: string[] = [];
    assert.equal(new HpackDecoder(4096, 1 << 20, 100).decode(block, 0, block.length, out), 0);
    assert.deepEqual(out, fields);
  });

  it('starts a new slab when one fills, without corrupting what was handed out', () => {
    const w = new FrameWriter();
    const before: Buffer[] = [];
    for (let i = 0; i < 5000; i++) w.rstStream(2 * i + 1, i);
    before.push(...w.take());
    const f = parse(Buffer.concat(before));
    assert.equal(f.length, 5000);
    f.forEach((x, i) => assert.equal(x.payload.readUInt32BE(0), i));
  });
});
