/**
 * The octets that lingering transactions resend (RFC 3261 §17.1.1.2, §17.2.1, §17.2.2), copied
 * end to end into shared chunks outside the JS heap. A transaction holds its chunk and a range
 * of it: no object and no string of its own per message. Held for 32 s (Timers J, L, M) at tens
 * of thousands of transactions a second, a string per response was the largest part of what
 * every minor GC copied and promoted.
 *
 * A chunk counts the transactions that hold a range of it; once full and released by all of
 * them, it is reused. Chunks of one age go together (Timers J, L, M, D, H run 32 s), and
 * reuse keeps V8's external memory flat: growing it by megabytes a second started extra major
 * GCs.
 */
export class Chunk {
  readonly bytes: Uint8Array
  /** transactions holding a range of it */
  held = 0

  constructor(size: number) {
    this.bytes = new Uint8Array(size)
  }
}

export class WireArena {
  readonly chunkSize: number
  /** free chunks kept for reuse, beyond which they go to the GC */
  readonly maxFree: number
  private chunk: Chunk
  private used = 0
  private readonly free: Array<Chunk> = []
  /** where the last `put` wrote, in the chunk it returned */
  at = 0

  constructor(chunkSize = 256 * 1024, maxFree = 64) {
    this.chunkSize = chunkSize
    this.maxFree = maxFree
    this.chunk = new Chunk(chunkSize)
  }

  /** copies `bytes` in and returns their chunk, held once more (`at` says where) */
  put(bytes: Uint8Array): Chunk {
    const n = bytes.length
    if (n > this.chunkSize >>> 4) {
      // a large message gets a chunk of its own
      const own = new Chunk(n)
      own.bytes.set(bytes)
      own.held = 1
      this.at = 0
      return own
    }
    if (this.used + n > this.chunkSize) {
      const full = this.chunk
      this.chunk = this.free.pop() ?? new Chunk(this.chunkSize)
      this.used = 0
      if (full.held === 0) this.recycle(full)
    }
    const chunk = this.chunk
    chunk.bytes.set(bytes, this.used)
    chunk.held++
    this.at = this.used
    this.used += n
    return chunk
  }

  /** the octets of a range, as a copy: the range is rewritten once its chunk is reused */
  read(chunk: Chunk, at: number, length: number): Uint8Array {
    return chunk.bytes.slice(at, at + length)
  }

  /** a transaction no longer holds its range of `chunk` */
  release(chunk: Chunk): void {
    if (--chunk.held === 0 && chunk !== this.chunk) this.recycle(chunk)
  }

  /** chunks kept for reuse */
  get freeChunks(): number {
    return this.free.length
  }

  private recycle(chunk: Chunk): void {
    if (chunk.bytes.length === this.chunkSize && this.free.length < this.maxFree) this.free.push(chunk)
  }
}
