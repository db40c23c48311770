/**
 * CIDR parsing for the config's network keys (`subnetCidr`, `sshAllowedCidr`, `appAllowedCidr`, …).
 *
 * Decision: a CIDR whose host bits are set (`192.168.100.5/24`) is refused, with the canonical form in the message.
 * Neutron stores security-group prefixes in canonical form on recent releases and not on older ones, so a
 * non-canonical value either makes a diff on every `pulumi up` or means something else than the user thought;
 * refusing it once is cheaper than either.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  /** 4 or 6. */
  readonly version: 4 | 6;
  /** Network address in canonical text form (IPv6 compressed, lowercase). */
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`, what is sent to OpenStack. */
  readonly text: string;
}

/**
 * A failure says, where it can, what the text most likely meant, so that the fix a message offers is the user's own
 * block: `network` for a block with host bits set (its canonical form), `address` for a plain address without a
 * prefix length (canonical; what block it stands for depends on the key: a host, or a subnet around it).
 */
export type CidrResult =
  | { ok: true; cidr: Cidr }
  | { ok: false; problem: string; network?: string; address?: { text: string; version: 4 | 6 } };

const V4_BITS = 32;
const V6_BITS = 128;

/** Parses and canonicalises a CIDR; `problem` says what is wrong in words that fit after "<key> (<value>) ". */
export function parseCidr(text: string): CidrResult {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  if (slash < 0) {
    const version = isIPv4(trimmed) ? 4 : isIPv6(trimmed) ? 6 : undefined;
    if (version === undefined)
      return { ok: false, problem: "is not a CIDR: it needs a prefix length, e.g. 10.0.0.0/24" };
    const text = version === 4 ? bigIntToIpv4(ipv4ToBigInt(trimmed)) : bigIntToIpv6(ipv6ToBigInt(trimmed));
    return {
      ok: false,
      problem: "is a single address, not a CIDR: it needs a prefix length",
      address: { text, version },
    };
  }
  const addr = trimmed.slice(0, slash);
  const lenText = trimmed.slice(slash + 1);
  const version = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : undefined;
  if (version === undefined) return { ok: false, problem: `is not a CIDR: "${addr}" is not an IPv4 or IPv6 address` };
  const bits = version === 4 ? V4_BITS : V6_BITS;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
    return { ok: false, problem: `is not a CIDR: the prefix length must be an integer from 0 to ${bits}` };
  }
  const prefixLength = Number(lenText);
  const value = version === 4 ? ipv4ToBigInt(addr) : ipv6ToBigInt(addr);
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  const network = value & ~hostMask;
  const address = version === 4 ? bigIntToIpv4(network) : bigIntToIpv6(network);
  if ((value & hostMask) !== 0n) {
    const canonical = `${address}/${prefixLength}`;
    return { ok: false, problem: `has host bits set: did you mean ${canonical}?`, network: canonical };
  }
  return { ok: true, cidr: { version, address, prefixLength, text: `${address}/${prefixLength}` } };
}

/**
 * True for a block wider than a /8: more than the largest private range (10.0.0.0/8), so it takes in public addresses
 * for certain — 0.0.0.0/1 (half the Internet) as much as 0.0.0.0/0.
 */
export function isWorldOpen(cidr: Cidr): boolean {
  return cidr.prefixLength < 8;
}

/** Number of addresses in the block (2^(bits − prefix)). */
export function blockSize(cidr: Cidr): bigint {
  return 1n << BigInt((cidr.version === 4 ? V4_BITS : V6_BITS) - cidr.prefixLength);
}

/**
 * Addresses of an IPv4 subnet that Neutron can hand to ports: the block minus the network and broadcast addresses,
 * the gateway and the DHCP port.
 */
export function usableSubnetAddresses(cidr: Cidr): number {
  const reserved = 4n;
  const size = blockSize(cidr);
  return size > reserved ? Number(size - reserved) : 0;
}

/** The n-th address of the block (0 = network address); throws when outside it. */
export function nthAddress(cidr: Cidr, n: number): string {
  if (!Number.isInteger(n) || n < 0 || BigInt(n) >= blockSize(cidr)) {
    throw new RangeError(`address #${n} is outside ${cidr.text}`);
  }
  const base = cidr.version === 4 ? ipv4ToBigInt(cidr.address) : ipv6ToBigInt(cidr.address);
  return cidr.version === 4 ? bigIntToIpv4(base + BigInt(n)) : bigIntToIpv6(base + BigInt(n));
}

/** True when `address` (a plain IP of the same family) lies inside `cidr`. */
export function contains(cidr: Cidr, address: string): boolean {
  const version = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (version !== cidr.version) return false;
  const bits = version === 4 ? V4_BITS : V6_BITS;
  const value = version === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
  const base = version === 4 ? ipv4ToBigInt(cidr.address) : ipv6ToBigInt(cidr.address);
  return value >> BigInt(bits - cidr.prefixLength) === base >> BigInt(bits - cidr.prefixLength);
}

function ipv4ToBigInt(addr: string): bigint {
  return addr.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function bigIntToIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

function ipv6ToBigInt(addr: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets first.
  let text = addr.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const n = ipv4ToBigInt(v4[1]);
    text = `${text.slice(0, v4.index)}${((n >> 16n) & 0xffffn).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const headParts = head === "" ? [] : head.split(":");
  const tailParts = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(fill).fill("0"), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

/** RFC 5952 text: lowercase, leading zeros dropped, the longest run (≥ 2) of zero hextets as `::`. */
function bigIntToIpv6(value: bigint): string {
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = parts.map((p) => p.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
