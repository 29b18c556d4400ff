// Types of switchboard.js.

export declare const RECONNECT_CODES: Set<number>;
export declare const TOKEN_CODES: Set<number>;

/** A frame the server sent: `type` and whatever else that type carries (docs/protocol.md). */
export interface Frame {
  type: string;
  id?: string | number;
  channel?: string;
  offset?: number;
  epoch?: string;
  recovered?: boolean;
  data?: unknown;
  code?: string;
  message?: string;
  [key: string]: unknown;
}

export declare class SwitchboardError extends Error {
  readonly code: string;
  readonly frame: Frame;
  constructor(frame: Frame);
}

export declare class ConnectionLost extends Error {}

export declare function reconnectHint(reason: string | null | undefined): number | null;

/** One channel followed, the client's own (`subscribe`) or made by the server (an unasked
 * `subscribed` frame, handed to `onSubscribed`). */
export declare class Subscription {
  readonly channel: string;
  /** Every message of the channel, in order, once each. Setting it hands it the messages
   * kept until then (a server-made subscription has none at first). */
  onMessage: ((frame: Frame) => unknown) | null;
  /** Called when the server could not recover what a reconnect missed. */
  onUnrecovered: ((subscription: Subscription, frame: Frame) => unknown) | null;
  /** The offset of the last publication received, in `epoch`. */
  offset: number | null;
  epoch: string | null;
  /** Times the server could not recover what was missed. */
  unrecovered: number;
  /** Made by the server, not by `subscribe`. */
  readonly server: boolean;
  /** False once it ended: unsubscribed by either side, or no longer resumable. */
  active: boolean;
  /** Messages dropped because more than `heldMessages` waited for an `onMessage`. */
  dropped: number;
  /** One message frame: passed on (or kept) unless it is one it had already. */
  deliver(frame: Frame): void;
}

export interface ClientOptions {
  /** A JWT, or a function (sync or async) asked for a fresh one at each connect (sent as `?token=`). */
  token?: string | (() => string | Promise<string>) | null;
  /** The WebSocket constructor: the browser's by default; in Node, the `ws` package's. */
  WebSocket?: unknown;
  reconnect?: boolean;
  /** Full-jitter backoff: a random wait up to min(backoffMax, backoffBase * 2 ** attempt) ms. */
  backoffBase?: number;
  backoffMax?: number;
  requestTimeout?: number;
  /** Called at every close: the code, the reason, and whether the client will reconnect. */
  onClose?: ((event: ClosedEvent) => unknown) | null;
  /** Each subscription the server makes, before any of its messages: set its `onMessage`. */
  onSubscribed?: ((subscription: Subscription, frame: Frame) => unknown) | null;
  /** A subscription ended without the client asking: the server's `unsubscribed`, or the
   * `error` that refused to resume a server-made one after a reconnect. */
  onUnsubscribed?: ((subscription: Subscription, frame: Frame) => unknown) | null;
  /** Messages a server-made subscription keeps until it has an `onMessage` (1000). */
  heldMessages?: number;
}

export interface ClosedEvent {
  code: number;
  reason: string;
  reconnecting: boolean;
}

export declare class Client {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  /** The welcome of the current connection. */
  welcome: Frame | null;
  /** Connections made: the first and every reconnect. */
  connections: number;
  /** The close code that ended the client, once it ended. */
  closeCode: number | null;
  /** Resolves with that code. */
  readonly closed: Promise<number>;
  onClose: ((event: ClosedEvent) => unknown) | null;
  onSubscribed: ((subscription: Subscription, frame: Frame) => unknown) | null;
  onUnsubscribed: ((subscription: Subscription, frame: Frame) => unknown) | null;
  /** The channels followed now, the client's and the server's (a copy). */
  readonly subscriptions: Map<string, Subscription>;
  connect(): Promise<Frame>;
  close(): void;
  request(type: string, fields?: Record<string, unknown>): Promise<Frame>;
  publish(channel: string, data: unknown): Promise<Frame>;
  broadcast(data: unknown): Promise<Frame>;
  echo(data: unknown): Promise<unknown>;
  send(data: unknown, to: { user?: unknown; connection?: string }): Promise<Frame>;
  /** Frames of `type` that answer no request; `"*"`: every frame, answers included. */
  on(type: string, callback: (frame: Frame) => unknown): void;
  /** For a channel the server subscribed the client to, that subscription takes the
   * callbacks (no request). */
  subscribe(
    channel: string,
    onMessage: (frame: Frame) => unknown,
    onUnrecovered?: ((subscription: Subscription, ack: Frame) => unknown) | null,
  ): Promise<Subscription>;
  unsubscribe(channel: string): Promise<Frame>;
}
