// One server-sent event stream, written straight to the Node response so that its backlog is
// known: a client that does not read is sent nothing more but the latest state once it drains.
import { performance } from 'node:perf_hooks';
import { closeWhenSent, connectionOf, type StreamResponse } from './stream-connection.js';

/** How long a browser waits before it reconnects a stream that ended (a restart). */
export const RECONNECT_MS = 2000;
/**
 * The same at shutdown, short: a browser may hold a spare connection open, unused, which keeps the
 * HTTP server from closing until the browser sends a request on it; its reconnect does it soon.
 */
const SHUTDOWN_RECONNECT_MS = 250;

/** One `state` event, formatted once for every stream (JSON has no line breaks). */
export function stateFrame(state: unknown): string {
  return `event: state\nretry: ${RECONNECT_MS}\ndata: ${JSON.stringify(state)}\n\n`;
}

/**
 * Writes only while the response takes what it is given: once `write()` returns false, a newer
 * state replaces the one waiting (a slow reader needs only the latest) until 'drain'. So what
 * waits for the client, in this process, is at most the response's high-water mark plus one
 * state, however many states change meanwhile.
 */
export class EventStream {
  /** False from a `write()` that returned false until the response's 'drain'. */
  private drained = true;
  private stalledAt: number | undefined;
  private due: string | undefined;
  private closed = false;
  /** Set once the stream got a state: a newcomer needs one even when nothing changed. */
  hasState = false;
  private readonly socket;

  constructor(
    private readonly response: StreamResponse,
    onClose: () => void,
  ) {
    this.socket = connectionOf(response);
    response.once('close', () => {
      this.closed = true;
      onClose();
    });
  }

  /** Sends the headers and an opening comment (the browser's `open`). */
  open(): void {
    const http1 = (this.response.req?.httpVersionMajor ?? 1) === 1;
    const socket = http1 ? this.response.socket : undefined;
    socket?.setNoDelay?.(true);
    socket?.setKeepAlive?.(true);
    socket?.setTimeout?.(0);
    this.response.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store, no-transform',
      'X-Accel-Buffering': 'no',
      // A hop-by-hop header, forbidden in HTTP/2.
      ...(http1 && { Connection: 'keep-alive' }),
    });
    this.write(': open\n\n');
  }

  /** Sends `frame` now, or keeps it as the one to send once the client has read the last. */
  send(frame: string): void {
    if (this.closed) return;
    this.hasState = true;
    if (this.drained) this.write(frame);
    else this.due = frame;
  }

  /** A comment that keeps proxies from closing an idle stream; needless on a busy one. */
  keepAlive(): void {
    if (!this.closed && this.drained) this.write(': keep-alive\n\n');
  }

  /** Bytes written that the client has not taken yet (this process's side of the backlog). */
  get backlog(): number {
    return this.response.writableLength ?? 0;
  }

  /** ms since a write backed up and the client has not read it all, 0 when it keeps up. */
  stalledFor(now = performance.now()): number {
    return this.stalledAt === undefined ? 0 : now - this.stalledAt;
  }

  /** Drops the connection of a client that stopped reading: what waits for it is freed. */
  drop(): void {
    this.closed = true;
    this.due = undefined;
    this.response.destroy();
  }

  /** Ends the stream (a reconnect hint first), then closes its connection once the end is sent. */
  end(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.due = undefined;
      this.response.end(`retry: ${SHUTDOWN_RECONNECT_MS}\n: shutting down\n\n`);
    }
    return closeWhenSent(this.response, this.socket);
  }

  private write(chunk: string): void {
    if (this.response.write(chunk)) return;
    this.drained = false;
    this.stalledAt ??= performance.now();
    this.response.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.drained = true;
    this.stalledAt = undefined;
    const due = this.due;
    this.due = undefined;
    if (due !== undefined && !this.closed) this.write(due);
  };
}
