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

export interface Subscription {
  readonly channel: string;
  onMessage: (frame: Frame) => unknown;
  onUnrecovered: ((subscription: Subscription, ack: Frame) => unknown) | null;
  /** The offset of the last publication received, in `epoch`. */
  offset: number | null;
  epoch: string | null;
  /** Times the server could not recover what was missed. */
  unrecovered: number;
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
  connect(): Promise<Frame>;
  close(): void;
  request(type: string, fields?: Record<string, unknown>): Promise<Frame>;
  publish(channel: string, data: unknown): Promise<Frame>;
  broadcast(data: unknown): Promise<Frame>;
  echo(data: unknown): Promise<unknown>;
  send(data: unknown, to: { user?: unknown; connection?: string }): Promise<Frame>;
  on(type: string, callback: (frame: Frame) => unknown): void;
  subscribe(
    channel: string,
    onMessage: (frame: Frame) => unknown,
    onUnrecovered?: ((subscription: Subscription, ack: Frame) => unknown) | null,
  ): Promise<Subscription>;
  unsubscribe(channel: string): Promise<Frame>;
}
