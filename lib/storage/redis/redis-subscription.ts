// The events channel on its own connection (a subscribed connection cannot run commands), with
// a signal whenever the subscription came back after a loss, so the view resyncs.
import type { Redis } from 'ioredis';
import { disconnect, type RedisClient } from './redis-client.js';

/**
 * Subscribes a duplicate of `client` to `channel`. `end` closes it at any time, even before
 * `ready` settles; `ready` rejects (leaving nothing open) when the subscription cannot be made.
 */
export function subscribeChannel(
  client: RedisClient,
  channel: string,
  onMessage: (message: string) => void,
  onResubscribed: () => void,
  onError: (error: Error) => void,
): { ready: Promise<void>; end: () => void } {
  const subscriber = (client as Redis).duplicate() as RedisClient;
  let readyOnce = false;
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  // ioredis resubscribes by itself after a reconnect; whatever was published meanwhile is lost.
  subscriber.on('ready', () => {
    if (readyOnce) onResubscribed();
    readyOnce = true;
  });
  // A Cluster moves a lost subscription to another node without a new 'ready'.
  subscriber.on('-node', () => onResubscribed());
  // Reconnects are handled by ioredis; errors are surfaced by commands.
  subscriber.on('error', onError);
  const end = () => {
    subscriber.removeAllListeners('message');
    disconnect(subscriber);
  };
  const ready = subscriber.subscribe(channel).then(
    () => void (readyOnce = true),
    (error: unknown) => {
      end();
      throw error;
    },
  );
  return { ready, end };
}
