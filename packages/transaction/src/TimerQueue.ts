/**
 * One min-heap of deadlines for every transaction timer of a layer. The layer's single
 * fiber sleeps on Effect's Clock until the earliest deadline, so TestClock drives all timers.
 * Cancelling is O(1): the entry becomes a tombstone, dropped when it reaches the top (or when
 * tombstones outnumber live entries and the heap is rebuilt).
 */

export interface Timer<T> {
  readonly deadline: number
  readonly seq: number
  readonly name: string
  /** the event to deliver */
  readonly event: string
  /** undefined once fired or cancelled */
  owner: T | undefined
}

const before = <T>(a: Timer<T>, b: Timer<T>): boolean =>
  a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq)

export class TimerQueue<T> {
  private heap: Array<Timer<T>> = []
  private seq = 0
  /** live (not cancelled, not fired) timers */
  armed = 0

  schedule(deadline: number, name: string, event: string, owner: T): Timer<T> {
    const timer: Timer<T> = { deadline, seq: this.seq++, name, event, owner }
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(timer, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = timer
    this.armed++
    return timer
  }

  cancel(timer: Timer<T>): void {
    if (timer.owner === undefined) return
    timer.owner = undefined
    this.armed--
    const heap = this.heap
    if (heap.length > 1024 && heap.length > 4 * this.armed) this.rebuild()
  }

  /** deadline of the earliest live timer */
  next(): number | undefined {
    const heap = this.heap
    while (heap.length > 0 && heap[0]!.owner === undefined) this.pop()
    return heap.length > 0 ? heap[0]!.deadline : undefined
  }

  /** removes and returns the earliest live timer due at `now`, or undefined */
  takeDue(now: number): Timer<T> | undefined {
    const deadline = this.next()
    if (deadline === undefined || deadline > now) return undefined
    const timer = this.pop()
    this.armed--
    return timer
  }

  /** entries held, tombstones included */
  get size(): number {
    return this.heap.length
  }

  private pop(): Timer<T> {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      const n = heap.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(heap[r]!, heap[l]!) ? r : l
        if (!before(heap[c]!, last)) break
        heap[i] = heap[c]!
        i = c
      }
      heap[i] = last
    }
    return top
  }

  private rebuild(): void {
    const live = this.heap.filter((t) => t.owner !== undefined)
    live.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq)
    this.heap = live
  }
}
