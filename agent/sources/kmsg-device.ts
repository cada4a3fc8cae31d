// kmsg-device.ts: the /dev/kmsg file descriptor, as the kmsg source reads it: one record per
// read, errno errors thrown (EAGAIN when the ring has nothing new, EPIPE once after an overrun),
// and, for the real device, a readiness wait, so that an idle source sleeps until the kernel
// logs something instead of polling.
//
// Readiness. /dev/kmsg supports poll(2), but Node's public API has no way to wait on it: libuv
// takes a character device for a file (uv_guess_handle: UV_FILE), so net.Socket refuses the fd.
// Node's pipe handle (process.binding('pipe_wrap'), deprecated as DEP0111 but present in Node
// 20 and 24) opens any fd into libuv's epoll loop, and a net.Socket with a fixed read buffer
// (`onread`) reads it there: no thread parked in read(), no allocation per read.
// The source still reads the fd itself with readSync, as the polling device does; the socket
// reads only while the source waits. wait() starts it, the first record the kernel logs runs the
// read callback, which keeps that record for the next read() and stops the socket again; or the
// wait times out. So a flood costs what it cost before (the source polls every 100 ms while
// records keep coming, kmsg.ts), and an idle ring costs no wake-ups at all.
// A socket read error (EPIPE, should the ring overrun between the wake-up and the read) makes
// Node destroy the socket and close the fd. The error is kept for the next read(), which throws
// it; the read after that opens the device again. A new fd starts at the oldest record in the
// ring, which is where the same fd goes on after EPIPE; the cursor skips what was handled.
// Only a character device 1:11 (/dev/kmsg) takes this path: libuv aborts the process when epoll
// refuses an fd (a regular file, /dev/null). Anything else, and a Node without the pipe handle,
// gets the polling device (no wait(); the source sleeps between reads).
import * as fs from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import type { Clock } from '../types';

/** The device, abstracted so tests can drive EPIPE/EINVAL sequences deterministically. */
export interface KmsgDevice {
  /** Reads one record into buf and returns its length; throws errno errors (EAGAIN, EPIPE, ...). */
  read(buf: Buffer): number;
  /**
   * Resolves when a read may find a record, after ms, or when the signal aborts, whichever is
   * first. Absent on a device without readiness notification: the source polls it.
   */
  wait?(ms: number, signal: AbortSignal): Promise<void>;
  close(): void;
}
export type KmsgDeviceOpener = (path: string) => KmsgDevice;

/** A read buffer larger than any record (the kernel caps one at 8 KiB; see kmsg.ts on EINVAL). */
export const KMSG_READ_BUFFER_BYTES = 16 * 1024;
/** /dev/kmsg's device number: major 1 (mem), minor 11. */
const KMSG_MAJOR = 1;
const KMSG_MINOR = 11;

const errnoError = (code: string, message: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: ${message}`), { code });

/** Opens path read-only and non-blocking, as every reader of the ring does; throws open's errors. */
export const openKmsgFd = (path: string): number => fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);

/** Opens path: the epoll device for /dev/kmsg, else the polling one. */
export function openKmsgDevice(path: string, clock: Clock): KmsgDevice {
  const fd = openKmsgFd(path);
  const pipe = isKmsg(fd) ? pipeFor(fd) : undefined;
  return pipe === undefined ? new PolledKmsgDevice(fd) : new ReadyKmsgDevice(path, clock, fd, pipe);
}

function isKmsg(fd: number): boolean {
  const st = fs.fstatSync(fd);
  // Linux's dev_t: major in bits 8-19 (and 32-43), minor in bits 0-7 (and 20-31).
  const major = (st.rdev >>> 8) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00);
  return st.isCharacterDevice() && major === KMSG_MAJOR && minor === KMSG_MINOR;
}

interface PipeHandle {
  open(fd: number): number;
  close(): void;
}
type PipeBinding = { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } };

/** fd inside a libuv pipe handle, or undefined (and fd untouched) when Node has none. */
function pipeFor(fd: number): PipeHandle | undefined {
  let binding: PipeBinding;
  try {
    binding = (process as unknown as { binding(name: string): PipeBinding }).binding('pipe_wrap');
  } catch {
    return undefined;
  }
  if (typeof binding?.Pipe !== 'function') return undefined;
  const pipe = new binding.Pipe(binding.constants.SOCKET);
  if (pipe.open(fd) === 0) return pipe;
  pipe.close();
  return undefined;
}

/** Reads the fd directly; EAGAIN when the ring has nothing new. */
class PolledKmsgDevice implements KmsgDevice {
  constructor(private readonly fd: number) {}

  read(buf: Buffer): number {
    return fs.readSync(this.fd, buf, 0, buf.length, null);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** A record the socket read during a wait, or the error that ended the socket. */
type Queued = Buffer | NodeJS.ErrnoException;

/** Reads the fd directly; between reads, waits on it through libuv (see the header). */
class ReadyKmsgDevice implements KmsgDevice {
  /** At most one record (the callback stops the socket at the first), or a socket error. */
  private readonly queue: Queued[] = [];
  private socket: Socket | undefined;
  private closed = false;
  private waiter: (() => void) | undefined;
  private readonly readBuf = Buffer.allocUnsafe(KMSG_READ_BUFFER_BYTES);

  constructor(
    private readonly path: string,
    private readonly clock: Clock,
    private fd: number,
    pipe: PipeHandle,
  ) {
    this.socket = this.attach(pipe);
  }

  read(buf: Buffer): number {
    const item = this.queue.shift();
    if (item !== undefined) {
      if (!Buffer.isBuffer(item)) throw item;
      return item.copy(buf, 0, 0, Math.min(item.length, buf.length));
    }
    if (this.socket === undefined) {
      if (this.closed) throw errnoError('EBADF', 'closed');
      this.reopen(); // after a socket error (Node closed the fd); throws if open fails
    }
    return fs.readSync(this.fd, buf, 0, buf.length, null);
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    const socket = this.socket;
    if (this.queue.length > 0 || socket === undefined || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        signal.removeEventListener('abort', done);
        if (this.waiter === done) this.waiter = undefined;
        if (this.socket === socket) socket.pause(); // libuv stops reading; read() reads the fd
        resolve();
      };
      const cancel = this.clock.setTimer(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiter = done;
      socket.resume(); // libuv reads the next record as the kernel logs it
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy(); // closes the fd
    this.socket = undefined;
    this.waiter?.();
  }

  private attach(pipe: PipeHandle): Socket {
    // `handle` is what net.Socket takes from Node's own handle bindings; @types/node omits it.
    const socket = new Socket({
      handle: pipe,
      readable: true,
      writable: false,
      onread: {
        buffer: this.readBuf,
        // One record wakes the waiter; `false` stops libuv's reading until the next wait.
        callback: (n: number, buf: Uint8Array): boolean => {
          this.queue.push(Buffer.from(buf.subarray(0, n)));
          this.waiter?.();
          return false;
        },
      },
    } as SocketConstructorOpts);
    socket.pause(); // not reading until a wait (with `onread`, pause() stops the handle)
    socket.unref(); // like the polling timers: the device alone does not keep the process up
    const failed = (err: NodeJS.ErrnoException): void => {
      if (this.socket !== socket) return;
      this.socket = undefined; // Node has destroyed it and closed the fd; read() reopens
      this.queue.push(err);
      this.waiter?.();
    };
    socket.on('error', failed);
    // /dev/kmsg never reads 0 bytes; if it ever did, libuv would take it for the end.
    socket.on('end', () => failed(errnoError('EOF', 'read 0 bytes: not a kernel log device')));
    return socket;
  }

  private reopen(): void {
    const fd = openKmsgFd(this.path);
    const pipe = pipeFor(fd);
    if (pipe === undefined) {
      fs.closeSync(fd);
      throw errnoError('ENOTSUP', `${this.path}: cannot watch the kernel log for readiness`);
    }
    this.fd = fd;
    this.socket = this.attach(pipe);
  }
}
