import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { blockSize, contains, isWorldOpen, nthAddress, parseCidr, usableSubnetAddresses } from "../../../infra/cidr";

describe("parseCidr", () => {
  const valid: { name: string; input: string; text: string; version: 4 | 6 }[] = [
    { name: "IPv4 /24", input: "192.168.100.0/24", text: "192.168.100.0/24", version: 4 },
    { name: "IPv4 host /32", input: "203.0.113.7/32", text: "203.0.113.7/32", version: 4 },
    { name: "IPv4 world", input: "0.0.0.0/0", text: "0.0.0.0/0", version: 4 },
    { name: "surrounding spaces", input: " 10.0.0.0/8 ", text: "10.0.0.0/8", version: 4 },
    { name: "IPv6 compressed", input: "2001:db8::/32", text: "2001:db8::/32", version: 6 },
    {
      name: "IPv6 expanded is canonicalised",
      input: "2001:0DB8:0000:0000:0000:0000:0000:0000/64",
      text: "2001:db8::/64",
      version: 6,
    },
    { name: "IPv6 world", input: "::/0", text: "::/0", version: 6 },
    { name: "IPv6 host", input: "2001:db8::1/128", text: "2001:db8::1/128", version: 6 },
  ];
  for (const row of valid) {
    it(`accepts ${row.name}`, () => {
      const r = parseCidr(row.input);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.cidr.text, row.text);
      assert.equal(r.cidr.version, row.version);
    });
  }

  // `network`/`address`: what the text most likely meant, for the fix a message offers.
  const invalid: {
    name: string;
    input: string;
    problem: string;
    network?: string;
    address?: { text: string; version: 4 | 6 };
  }[] = [
    {
      name: "a plain IPv4 address",
      input: " 10.0.0.7 ",
      problem: "is a single address, not a CIDR: it needs a prefix length",
      address: { text: "10.0.0.7", version: 4 },
    },
    {
      name: "a plain IPv6 address (canonical in the result)",
      input: "2001:DB8:0:0::1",
      problem: "is a single address, not a CIDR: it needs a prefix length",
      address: { text: "2001:db8::1", version: 6 },
    },
    {
      name: "no prefix, no address",
      input: "my-laptop",
      problem: "is not a CIDR: it needs a prefix length, e.g. 10.0.0.0/24",
    },
    {
      name: "bad address",
      input: "10.0.0.300/24",
      problem: 'is not a CIDR: "10.0.0.300" is not an IPv4 or IPv6 address',
    },
    {
      name: "prefix too long v4",
      input: "10.0.0.0/33",
      problem: "is not a CIDR: the prefix length must be an integer from 0 to 32",
    },
    {
      name: "prefix too long v6",
      input: "::/129",
      problem: "is not a CIDR: the prefix length must be an integer from 0 to 128",
    },
    {
      name: "prefix not a number",
      input: "10.0.0.0/x",
      problem: "is not a CIDR: the prefix length must be an integer from 0 to 32",
    },
    {
      name: "host bits v4",
      input: "192.168.100.5/24",
      problem: "has host bits set: did you mean 192.168.100.0/24?",
      network: "192.168.100.0/24",
    },
    {
      name: "host bits v6",
      input: "2001:db8::1/64",
      problem: "has host bits set: did you mean 2001:db8::/64?",
      network: "2001:db8::/64",
    },
    {
      name: "name instead of address",
      input: "example.com/24",
      problem: 'is not a CIDR: "example.com" is not an IPv4 or IPv6 address',
    },
  ];
  for (const row of invalid) {
    it(`refuses ${row.name}`, () => {
      const { name: _name, input: _input, ...failure } = row;
      assert.deepEqual(parseCidr(row.input), { ok: false, ...failure });
    });
  }

  it("any IPv4 address masked to any prefix round-trips to the same canonical block", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        const first = parseCidr(`${ip}/${len}`);
        const canonical = first.ok ? first.cidr.text : /did you mean (\S+)\?/.exec(first.problem)?.[1];
        assert.ok(canonical, `no canonical form for ${ip}/${len}`);
        const again = parseCidr(canonical);
        assert.ok(again.ok);
        assert.equal(again.cidr.text, canonical);
        assert.ok(contains(again.cidr, ip), `${ip} not in ${canonical}`);
      }),
    );
  });

  it("any IPv6 address masked to any prefix round-trips and contains the address", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, len) => {
        const first = parseCidr(`${ip}/${len}`);
        const canonical = first.ok ? first.cidr.text : /did you mean (\S+)\?/.exec(first.problem)?.[1];
        assert.ok(canonical, `no canonical form for ${ip}/${len}`);
        const again = parseCidr(canonical);
        assert.ok(again.ok, `${canonical}: ${JSON.stringify(again)}`);
        assert.equal(again.cidr.text, canonical);
        assert.ok(contains(again.cidr, ip));
      }),
    );
  });
});

describe("CIDR helpers", () => {
  const cidr = (t: string) => {
    const r = parseCidr(t);
    assert.ok(r.ok);
    return r.cidr;
  };
  const rows: { name: string; cidr: string; world: boolean; size: bigint; usable: number }[] = [
    { name: "/24", cidr: "192.168.100.0/24", world: false, size: 256n, usable: 252 },
    { name: "/29", cidr: "10.0.0.8/29", world: false, size: 8n, usable: 4 },
    { name: "/31", cidr: "10.0.0.0/31", world: false, size: 2n, usable: 0 },
    { name: "v4 world", cidr: "0.0.0.0/0", world: true, size: 1n << 32n, usable: 2 ** 32 - 4 },
    { name: "half the v4 Internet", cidr: "0.0.0.0/1", world: true, size: 1n << 31n, usable: 2 ** 31 - 4 },
    { name: "/7: wider than any private range", cidr: "10.0.0.0/7", world: true, size: 1n << 25n, usable: 2 ** 25 - 4 },
    { name: "10.0.0.0/8: private", cidr: "10.0.0.0/8", world: false, size: 1n << 24n, usable: 2 ** 24 - 4 },
    { name: "v6 world", cidr: "::/0", world: true, size: 1n << 128n, usable: Number((1n << 128n) - 4n) },
  ];
  for (const row of rows) {
    it(`${row.name}: world-open ${row.world}, ${row.size} addresses, ${row.usable} usable`, () => {
      const c = cidr(row.cidr);
      assert.equal(isWorldOpen(c), row.world);
      assert.equal(blockSize(c), row.size);
      assert.equal(usableSubnetAddresses(c), row.usable);
    });
  }
  it("nthAddress walks the block and refuses to leave it", () => {
    const c = cidr("192.168.100.0/24");
    assert.equal(nthAddress(c, 0), "192.168.100.0");
    assert.equal(nthAddress(c, 10), "192.168.100.10");
    assert.equal(nthAddress(c, 255), "192.168.100.255");
    assert.throws(() => nthAddress(c, 256), /address #256 is outside 192.168.100.0\/24/);
    assert.equal(nthAddress(cidr("2001:db8::/64"), 16), "2001:db8::10");
  });
  it("contains tells families apart", () => {
    assert.equal(contains(cidr("10.0.0.0/8"), "10.1.2.3"), true);
    assert.equal(contains(cidr("10.0.0.0/8"), "11.0.0.1"), false);
    assert.equal(contains(cidr("::/0"), "10.0.0.1"), false);
  });
});
