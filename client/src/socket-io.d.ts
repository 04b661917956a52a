/**
 * The socket.io client as the server serves it: its own ESM bundle at
 * /socket.io/socket.io.esm.min.js, imported by URL in the browser. The bundle is the same
 * socket.io-client the server depends on, so its published types describe it.
 */
declare module '*/socket.io.esm.min.js' {
  export { io, Socket, ManagerOptions, SocketOptions } from 'socket.io-client';
}
