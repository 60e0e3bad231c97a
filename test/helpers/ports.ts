// Loopback ports for the tests: a free one to hand to a child process, a wait until one accepts
// connections, and the port a listening server got.
import net from 'node:net'

/** A port that was free a moment ago on 127.0.0.1 (for a child process to bind). */
export async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** Whether 127.0.0.1:port accepts a connection now. */
export function accepts (port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = net.connect(port, '127.0.0.1')
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => resolve(false))
  })
}

/**
 * Waits until 127.0.0.1:port accepts connections; throws after `timeout` ms, or as soon as
 * `dead()` returns a reason (the process meant to listen has exited).
 */
export async function waitListening (port: number, { timeout = 15000, name = 'the server', dead }: { timeout?: number, name?: string, dead?: () => string | null } = {}): Promise<void> {
  const end = Date.now() + timeout
  for (;;) {
    const reason = dead?.() ?? null
    if (reason !== null) throw new Error(reason)
    if (await accepts(port)) return
    if (Date.now() > end) throw new Error(`${name} did not listen on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The TCP port a listening server is bound to. */
export function portOf (server: { address: () => string | net.AddressInfo | null }): number {
  return (server.address() as net.AddressInfo).port
}
