/**
 * DNS over TCP prefixes each message with its length as two bytes (RFC 1035
 * 4.2.2). Chunks from a socket split and join messages arbitrarily; this turns
 * them back into whole messages.
 */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Feed a chunk; returns every message it completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (this.#pending.length >= 2) {
      const length = this.#pending.readUInt16BE(0);
      if (this.#pending.length < 2 + length) break;
      // Copy, so a retained message does not pin the whole socket chunk.
      out.push(Buffer.from(this.#pending.subarray(2, 2 + length)));
      this.#pending = this.#pending.subarray(2 + length);
    }
    return out;
  }
}

/** Length-prefix one message for a TCP stream. */
export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}
