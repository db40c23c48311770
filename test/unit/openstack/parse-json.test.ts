import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseJson, type HttpResponse } from "../../../scaler/openstack/http";

/** parseJson: strict JSON, and Python's non-finite tokens (Gnocchi's replies) read as null only when asked. */
const reply = (text: string): HttpResponse => ({ status: 200, headers: {}, text });

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
