import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseJson, type HttpResponse } from "../../../scaler/openstack/http";

/** parseJson: strict JSON, and Python's non-finite tokens (Gnocchi's replies) read as null only when asked. */
const reply = (text: string, scrub = (t: string) => t): HttpResponse => ({ status: 200, headers: {}, text, scrub });

describe("parseJson with pythonNonFinite", () => {
  const rows: { name: string; text: string; want: unknown }[] = [
    { name: "strict JSON is parsed as is", text: '{"a": [1, 2.5, null]}', want: { a: [1, 2.5, null] } },
    {
      name: "NaN, Infinity and -Infinity become null",
      text: '{"v": [NaN, Infinity, -Infinity, 1]}',
      want: { v: [null, null, null, 1] },
    },
    {
      name: "the tokens inside strings, escaped quotes included, stay strings",
      text: '{"s": "a\\"NaN", "t": "Infinity \\\\", "u": "\\u004eaN", "v": [NaN]}',
      want: { s: 'a"NaN', t: "Infinity \\", u: "NaN", v: [null] },
    },
    { name: "a key named NaN stays a key", text: '{"NaN": NaN}', want: { NaN: null } },
  ];
  for (const r of rows) {
    it(r.name, () => {
      assert.deepEqual(parseJson(reply(r.text), "GET /x", { pythonNonFinite: true }), r.want);
    });
  }

  it("without the option a bare NaN is malformed, naming the request", () => {
    assert.throws(
      () => parseJson(reply('{"v": [NaN]}'), "GET /x"),
      (e: Error & { kind?: string }) => e.kind === "malformed" && /GET \/x: the reply is not JSON/.test(e.message),
    );
  });

  it("text that is not JSON even with the tokens rewritten is still malformed", () => {
    for (const text of ['{"v": NaN', "NaN garbage", '{"unterminated: NaN}']) {
      assert.throws(
        () => parseJson(reply(text), "GET /x", { pythonNonFinite: true }),
        (e: Error & { kind?: string }) => e.kind === "malformed",
        text,
      );
    }
  });
});

describe("parseJson: the start of a reply that is not JSON, as a message quotes it", () => {
  const scrub = (t: string) => t.split("tok3n-secret-0001").join("[redacted]");
  it("is scrubbed with the reply's client's secrets, whole and then cut: no start of a secret is left", () => {
    // At character 50 the token would be cut after its 10th character, were the cut made first.
    const text = `${"x".repeat(50)}tok3n-secret-0001 and more than sixty characters in all`;
    assert.throws(
      () => parseJson(reply(text, scrub), "GET /x"),
      (e: Error) => {
        assert.equal(e.message, `GET /x: the reply is not JSON (starts with "${"x".repeat(50)}[redacted]")`);
        return true;
      },
    );
  });
});
