// The client side of a SOCKS5 CONNECT (RFC 1928) with username/password
// authentication (RFC 1929), as a state machine that does no I/O: bytes in
// through `receive()`, bytes out through `output()`.

import { concatBytes } from "../_util/bytes.ts";

/** Where a SOCKS5 tunnel leads: an IP address, or a name the proxy resolves. */
export interface Socks5Target {
  /** An IPv4 or IPv6 address literal, or a domain name (at most 255 bytes). */
  host: string;
  /** The port. */
  port: number;
}

/** Credentials for RFC 1929 authentication. */
export interface Socks5Credentials {
  /** At most 255 bytes of UTF-8. */
  username: string;
  /** At most 255 bytes of UTF-8. */
  password: string;
}

/** A SOCKS5 failure: `reply` is the server's reply code, 0 for a protocol fault. */
export class Socks5Error extends Error {
  /** The reply code (RFC 1928 section 6), or 0. */
  readonly reply: number;
  constructor(message: string, reply = 0) {
    super(message);
    this.name = "Socks5Error";
    this.reply = reply;
  }
}

// The protocol's numbers (RFC 1928 sections 3 to 5), by what they name.
const VERSION = 5;
const CONNECT = 0x01;
const METHOD = {
  none: 0x00,
  usernamePassword: 0x02,
  noneAcceptable: 0xff,
} as const;
const ADDRESS = { ipv4: 0x01, domain: 0x03, ipv6: 0x04 } as const;

/** The meaning of each reply code (RFC 1928 section 6). */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

const encoder = new TextEncoder();

/** Encodes an IPv4 address literal, or returns undefined. */
export function encodeIpv4(host: string): Uint8Array | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!match) return undefined;
  const bytes = match.slice(1).map(Number);
  if (bytes.some((b) => b > 255)) return undefined;
  return new Uint8Array(bytes);
}

/** Encodes an IPv6 address literal (brackets allowed), or returns undefined. */
export function encodeIpv6(host: string): Uint8Array | undefined {
  let text = host.replace(/^\[(.*)\]$/, "$1");
  if (!text.includes(":")) return undefined;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = encodeIpv4(quad[1]);
    if (!v4) return undefined;
    text = text.slice(0, quad.index) +
      `${((v4[0] << 8) | v4[1]).toString(16)}:${
        ((v4[2] << 8) | v4[3]).toString(16)
      }`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => part === "" ? [] : part.split(":");
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [
    ...head,
    ...Array(halves.length === 2 ? missing : 0).fill("0"),
    ...tail,
  ];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return undefined;
    const value = parseInt(groups[i], 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  return bytes;
}

/** Encodes the CONNECT request's address: type byte, address, port. */
export function encodeAddress(target: Socks5Target): Uint8Array {
  if (
    !Number.isInteger(target.port) || target.port < 0 || target.port > 65535
  ) {
    throw new RangeError(`Invalid port ${target.port}`);
  }
  const v4 = encodeIpv4(target.host);
  const v6 = v4 ? undefined : encodeIpv6(target.host);
  let address: Uint8Array;
  if (v4) address = new Uint8Array([ADDRESS.ipv4, ...v4]);
  else if (v6) address = new Uint8Array([ADDRESS.ipv6, ...v6]);
  else {
    const name = encoder.encode(target.host);
    if (name.length === 0 || name.length > 255) {
      throw new RangeError("A SOCKS5 domain name takes 1 to 255 bytes");
    }
    address = new Uint8Array([ADDRESS.domain, name.length, ...name]);
  }
  const out = new Uint8Array(address.length + 2);
  out.set(address);
  out[address.length] = target.port >> 8;
  out[address.length + 1] = target.port & 0xff;
  return out;
}

type State = "method" | "auth" | "reply" | "done";

/**
 * One SOCKS5 CONNECT handshake. Send `output()`, feed what arrives to
 * `receive()`, repeat until `done`; `rest` then holds bytes that followed
 * the reply (the tunnel's first bytes).
 */
export class Socks5Handshake {
  #target: Socks5Target;
  #credentials: Socks5Credentials | undefined;
  #state: State = "method";
  #buffer: Uint8Array = new Uint8Array(0);
  #output: Uint8Array[] = [];
  /** Bytes that followed the final reply. */
  rest: Uint8Array = new Uint8Array(0);
  /** The address the proxy bound for the tunnel, once done. */
  bound: Socks5Target | undefined = undefined;

  constructor(target: Socks5Target, credentials?: Socks5Credentials) {
    this.#target = target;
    this.#credentials = credentials;
    const methods = credentials
      ? [METHOD.none, METHOD.usernamePassword]
      : [METHOD.none];
    this.#output.push(new Uint8Array([VERSION, methods.length, ...methods]));
  }

  /** Whether the tunnel is open. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Bytes to send now (empty when nothing is due). */
  output(): Uint8Array {
    return concatBytes(this.#output.splice(0));
  }

  /** Takes bytes from the proxy; throws a `Socks5Error` on a refusal. */
  receive(bytes: Uint8Array): void {
    if (this.#state === "done") {
      // The tunnel's bytes, after the reply.
      this.rest = concatBytes([this.rest, bytes]);
      return;
    }
    this.#buffer = concatBytes([this.#buffer, bytes]);
    while (!this.done) {
      const used = this.#step(this.#buffer);
      if (used === 0) return;
      this.#buffer = this.#buffer.subarray(used);
    }
    this.rest = this.#buffer;
    this.#buffer = new Uint8Array(0);
  }

  // Consumes one message if it has fully arrived; returns its length or 0.
  #step(b: Uint8Array): number {
    switch (this.#state) {
      case "method": {
        if (b.length < 2) return 0;
        if (b[0] !== VERSION) {
          throw new Socks5Error(`Not a SOCKS5 server (version ${b[0]})`);
        }
        if (b[1] === METHOD.noneAcceptable) {
          throw new Socks5Error(
            this.#credentials
              ? "The SOCKS5 proxy accepts none of the offered authentication methods"
              : "The SOCKS5 proxy asks for authentication",
          );
        }
        if (b[1] === METHOD.usernamePassword && this.#credentials) {
          const user = encoder.encode(this.#credentials.username);
          const pass = encoder.encode(this.#credentials.password);
          if (user.length > 255 || pass.length > 255) {
            throw new RangeError(
              "SOCKS5 credentials take at most 255 bytes each",
            );
          }
          this.#output.push(
            new Uint8Array([1, user.length, ...user, pass.length, ...pass]),
          );
          this.#state = "auth";
        } else if (b[1] === METHOD.none) {
          this.#sendConnect();
        } else {
          throw new Socks5Error(
            `The SOCKS5 proxy chose a method that was not offered (${b[1]})`,
          );
        }
        return 2;
      }
      case "auth": {
        if (b.length < 2) return 0;
        if (b[1] !== 0) {
          throw new Socks5Error(
            "The SOCKS5 proxy rejected the username and password",
          );
        }
        this.#sendConnect();
        return 2;
      }
      case "reply": {
        if (b.length < 5) return 0;
        if (b[0] !== VERSION) {
          throw new Socks5Error(`Bad SOCKS5 reply version ${b[0]}`);
        }
        if (b[1] !== 0) {
          throw new Socks5Error(
            `The SOCKS5 proxy refused the connection: ${
              SOCKS5_REPLIES[b[1]] ?? `reply ${b[1]}`
            }`,
            b[1],
          );
        }
        const type = b[3];
        const addressLength = type === ADDRESS.ipv4
          ? 4
          : type === ADDRESS.ipv6
          ? 16
          : type === ADDRESS.domain
          ? 1 + b[4]
          : -1;
        if (addressLength < 0) {
          throw new Socks5Error(`Bad SOCKS5 address type ${type}`);
        }
        const length = 4 + addressLength + 2;
        if (b.length < length) return 0;
        const address = b.subarray(4, 4 + addressLength);
        const host = type === ADDRESS.ipv4
          ? address.join(".")
          : type === ADDRESS.ipv6
          ? Array.from(
            { length: 8 },
            (_, i) => ((address[2 * i] << 8) | address[2 * i + 1]).toString(16),
          ).join(":")
          : new TextDecoder().decode(address.subarray(1));
        this.bound = { host, port: (b[length - 2] << 8) | b[length - 1] };
        this.#state = "done";
        return length;
      }
      default:
        return 0;
    }
  }

  #sendConnect(): void {
    const address = encodeAddress(this.#target);
    const request = new Uint8Array(3 + address.length);
    request.set([VERSION, CONNECT, 0]);
    request.set(address, 3);
    this.#output.push(request);
    this.#state = "reply";
  }
}
