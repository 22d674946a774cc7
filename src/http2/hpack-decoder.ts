// Any thread (pure). HPACK (RFC 7541) header block decoder: one per HTTP/2 connection, fed every complete header
// block the peer sends, in order (the dynamic table is connection state shared by all of its streams).

import { ENTRY_OVERHEAD as OVERHEAD, HpackDynamicTable } from './hpack-dynamic-table.ts';
import { STATIC_NAMES as NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES as VALUES } from './hpack-tables.ts';
import { huffmanDecode, huffmanDecodedCapacity } from './huffman.ts';

/** Buffer's internal latin1 decoder (what buf.toString('latin1', a, b) ends in, without its argument checks). */
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
}

export const HpackDecodeResult = { OK: 0, COMPRESSION_ERROR: 1, HEADER_LIST_TOO_LARGE: 2, TOO_MANY_HEADERS: 3 } as const;
export type HpackDecodeResult = (typeof HpackDecodeResult)[keyof typeof HpackDecodeResult];

const OK = HpackDecodeResult.OK;
const COMPRESSION_ERROR = HpackDecodeResult.COMPRESSION_ERROR;
const HEADER_LIST_TOO_LARGE = HpackDecodeResult.HEADER_LIST_TOO_LARGE;
const TOO_MANY_HEADERS = HpackDecodeResult.TOO_MANY_HEADERS;

/** The dynamic table size the peer's encoder starts with, before any size update (RFC 9113 §6.5.2 initial value). */
const INITIAL_TABLE_SIZE = 4096;
/** Integers above this are a COMPRESSION_ERROR: nothing legitimate (an index, a length, a size) comes close. */
const MAX_INTEGER = 0xffffffff;
const INITIAL_SCRATCH = 256;
// Module-local aliases: TurboFan folds a module's own consts into constants, which it does not do for imports.
const STATIC_NAMES = NAMES;
const STATIC_VALUES = VALUES;
/** RFC 9113 §6.5.2 counts a header list's fields as §4.1 sizes its entries. */
const ENTRY_OVERHEAD = OVERHEAD;

export class HpackDecoder {
  private readonly maxTableSize: number;
  private readonly maxHeaderListBytes: number;
  private readonly maxHeaders: number;
  /**
   * The peer's table as it replays it. Its capacity is the peer's last size update (≤ maxTableSize), and 4096
   * before any, whatever we advertise: the peer's encoder starts at the protocol default and may send blocks before
   * it has seen our SETTINGS (a smaller value binds it from the first block after it acknowledges them, which must
   * open with an update); a larger value it may simply never use.
   */
  /** Read-only outside this class (tests and debugging read its size, capacity and entries). */
  readonly table: HpackDynamicTable;
  /** Where the last readInteger/readString stopped (an out-parameter, so they return one number or string). */
  private pos: number;
  /** Holds Huffman-decoded bytes until they become a string; grows to the longest string seen. */
  private scratch: Buffer;

  /**
   * maxTableSize: the SETTINGS_HEADER_TABLE_SIZE we advertise (size updates above it are a COMPRESSION_ERROR; the
   * table starts at 4096 regardless, see `table`).
   * maxHeaderListBytes: RFC 9113 header list size limit (name.length + value.length + 32 per field).
   * maxHeaders: the most fields a block may carry, pseudo-headers included.
   */
  constructor(maxTableSize: number, maxHeaderListBytes: number, maxHeaders: number) {
    this.maxTableSize = maxTableSize;
    this.maxHeaderListBytes = maxHeaderListBytes;
    this.maxHeaders = maxHeaders;
    this.table = new HpackDynamicTable(INITIAL_TABLE_SIZE);
    this.pos = 0;
    this.scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
  }

  /**
   * Decodes one complete header block (all HEADERS/CONTINUATION fragments joined) from buf[start, end),
   * appending name, value, name, value... to `out`, names as on the wire. Returns an HpackDecodeResult.
   * On HEADER_LIST_TOO_LARGE / TOO_MANY_HEADERS the whole block is still decoded so the dynamic table stays in
   * sync with the peer; the fields from the one over the limit on are not appended (a stream error).
   * COMPRESSION_ERROR is a connection error: `out` may hold part of the block and the table is no longer usable.
   */
  decode(buf: Buffer, start: number, end: number, out: string[]): number {
    let p = start;
    let result: number = OK;
    let fields = 0;
    let listBytes = 0;
    while (p < end) {
      const first = buf[p];
      let name: string;
      let value: string;
      if (first >= 0x80) {
        // §6.1 indexed field.
        const index = this.readInteger(buf, p, end, 7);
        if (index <= 0) return COMPRESSION_ERROR;
        p = this.pos;
        if (index <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else {
          const d = index - STATIC_TABLE_LENGTH - 1;
          if (d >= this.table.count) return COMPRESSION_ERROR;
          name = this.table.nameAt(d);
          value = this.table.valueAt(d);
        }
      } else if (first >= 0x20 && first < 0x40) {
        // §6.3 dynamic table size update: only before the block's first field (§4.2).
        if (fields !== 0) return COMPRESSION_ERROR;
        const size = this.readInteger(buf, p, end, 5);
        if (size < 0 || size > this.maxTableSize) return COMPRESSION_ERROR;
        p = this.pos;
        this.table.setCapacity(size);
        continue;
      } else {
        // §6.2 literals: 01 with incremental indexing (6-bit name index), 0000 without indexing and 0001 never
        // indexed (4-bit). The last two decode alike: "never" only binds intermediaries that re-encode.
        const indexing = first >= 0x40;
        const nameIndex = this.readInteger(buf, p, end, indexing ? 6 : 4);
        if (nameIndex < 0) return COMPRESSION_ERROR;
        p = this.pos;
        if (nameIndex === 0) {
          const literal = this.readString(buf, p, end);
          if (literal === null) return COMPRESSION_ERROR;
          name = literal;
          p = this.pos;
        } else if (nameIndex <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[nameIndex];
        } else {
          const d = nameIndex - STATIC_TABLE_LENGTH - 1;
          if (d >= this.table.count) return COMPRESSION_ERROR;
          name = this.table.nameAt(d);
        }
        const literal = this.readString(buf, p, end);
        if (literal === null) return COMPRESSION_ERROR;
        value = literal;
        p = this.pos;
        if (indexing) this.table.insert(name, value);
      }
      fields++;
      if (result === OK) {
        listBytes += name.length + value.length + ENTRY_OVERHEAD;
        if (fields > this.maxHeaders) result = TOO_MANY_HEADERS;
        else if (listBytes > this.maxHeaderListBytes) result = HEADER_LIST_TOO_LARGE;
        else out.push(name, value);
      }
    }
    return result;
  }

  /**
   * §5.1 integer with an n-bit prefix starting at buf[p]; sets this.pos past it. Returns -1 when it is truncated,
   * above MAX_INTEGER, or longer than 5 continuation bytes (which is where MAX_INTEGER lies).
   */
  private readInteger(buf: Buffer, p: number, end: number, prefixBits: number): number {
    const limit = (1 << prefixBits) - 1;
    let value = buf[p++] & limit;
    if (value < limit) {
      this.pos = p;
      return value;
    }
    // Plain number arithmetic (exact to 2^53), so 32-bit wrap-around can never make a huge value look small.
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (p >= end) return -1;
      const b = buf[p++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (value > MAX_INTEGER) return -1;
        this.pos = p;
        return value;
      }
      scale *= 128;
    }
    return -1;
  }

  /** §5.2 string literal at buf[p]; sets this.pos past it. Returns null when it is truncated or bad Huffman. */
  private readString(buf: Buffer, p: number, end: number): string | null {
    if (p >= end) return null;
    const huffman = buf[p] >= 0x80;
    const length = this.readInteger(buf, p, end, 7);
    if (length < 0) return null;
    const from = this.pos;
    const to = from + length;
    if (to > end) return null;
    this.pos = to;
    if (!huffman) return latin1(buf, from, to);
    const need = huffmanDecodedCapacity(length);
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    const n = huffmanDecode(buf, from, to, this.scratch);
    if (n < 0) return null;
    return latin1(this.scratch, 0, n);
  }
}

/**
 * buf[from, to) as a latin1 string. Up to 8 bytes String.fromCharCode is several times cheaper than the native
 * latin1Slice call (measured ~15 ns against ~70 ns), and short values ('200', '*\/*', 'GET', '3') are common.
 */
function latin1(buf: Buffer, from: number, to: number): string {
  switch (to - from) {
    case 0: return '';
    case 1: return String.fromCharCode(buf[from]);
    case 2: return String.fromCharCode(buf[from], buf[from + 1]);
    case 3: return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2]);
    case 4: return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2], buf[from + 3]);
    case 5: return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2], buf[from + 3], buf[from + 4]);
    case 6:
      return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2], buf[from + 3], buf[from + 4], buf[from + 5]);
    case 7:
      return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2], buf[from + 3], buf[from + 4], buf[from + 5],
        buf[from + 6]);
    case 8:
      return String.fromCharCode(buf[from], buf[from + 1], buf[from + 2], buf[from + 3], buf[from + 4], buf[from + 5],
        buf[from + 6], buf[from + 7]);
    default:
      return (buf as unknown as Latin1Buffer).latin1Slice(from, to);
  }
}
