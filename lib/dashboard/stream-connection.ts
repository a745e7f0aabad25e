// Ends the connection under an event stream once the stream is over, so that at shutdown no open
// page holds up the HTTP server's close (a browser reconnects on a kept-alive connection forever).

/** How long an ended stream may take to reach a client that does not read it. */
const SEND_TIMEOUT_MS = 1000;

/** The Node response under an event stream (`res`, or `res.raw` under Fastify). */
export interface StreamResponse {
  readonly writableFinished?: boolean;
  readonly writableLength?: number;
  readonly destroyed?: boolean;
  readonly socket?: StreamSocket | null;
  readonly req?: { readonly httpVersionMajor?: number };
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  once(event: 'finish' | 'close' | 'drain', listener: () => void): unknown;
  destroy(): unknown;
}

export interface StreamSocket {
  end(): unknown;
  setNoDelay?(noDelay: boolean): unknown;
  setKeepAlive?(enable: boolean): unknown;
  setTimeout?(ms: number): unknown;
}

/** The connection of a stream, taken when it opens: a response lets go of it once sent. */
export function connectionOf(response: StreamResponse | undefined): StreamSocket | undefined {
  // HTTP/2 streams share their session's socket: closing it would end the other streams.
  return response?.req?.httpVersionMajor === 1 ? (response.socket ?? undefined) : undefined;
}

/** Waits until the (ended) response is sent, or destroys it after a bound; then ends `socket`. */
export async function closeWhenSent(
  response: StreamResponse | undefined,
  socket: StreamSocket | undefined,
): Promise<void> {
  if (response && !response.writableFinished && !response.destroyed) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        response.destroy();
        resolve();
      }, SEND_TIMEOUT_MS);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      response.once('finish', done);
      response.once('close', done);
    });
  }
  socket?.end();
}
