import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { loadTrace, parseTrace, sliceTrace, TraceError, tracePeak } from "../../../scaler/policy/trace";

/** `text` as a RegExp source that matches it literally. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("trace CSV parsing", () => {
  it("reads NAB timestamps as UTC, values as numbers, the step as the median spacing", () => {
    const t = parseTrace(
      "timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n2014-07-01 01:00:00,6210.5\n",
    );
    assert.deepEqual(
      [...t.times],
      [Date.UTC(2014, 6, 1, 0, 0), Date.UTC(2014, 6, 1, 0, 30), Date.UTC(2014, 6, 1, 1, 0)],
    );
    assert.deepEqual([...t.values], [10844, 8127, 6210.5]);
    assert.equal(t.step, 30 * 60_000);
    assert.equal(tracePeak(t), 10844);
  });

  it("accepts quoted fields, CRLF line ends, ISO timestamps and epoch seconds", () => {
    const t = parseTrace('"timestamp","value"\r\n"2014-07-01T00:00:00Z","1"\r\n1404173100,2\r\n');
    assert.deepEqual([...t.times], [Date.UTC(2014, 6, 1), Date.UTC(2014, 6, 1, 0, 5)]);
  });

  // Each is the first row; the second is 2030-01-01 00:00:00 UTC. Run under any TZ: none of these depends on it.
  const formats: { text: string; utc: number }[] = [
    { text: "2024-01-02 10:00:00", utc: Date.UTC(2024, 0, 2, 10) },
    { text: "2024-01-02 10:00", utc: Date.UTC(2024, 0, 2, 10) },
    { text: "2024-01-02T10:00:00", utc: Date.UTC(2024, 0, 2, 10) },
    { text: "2024-01-02T10:00:00.250Z", utc: Date.UTC(2024, 0, 2, 10, 0, 0, 250) },
    { text: "2024-01-02T10:00:00+01:00", utc: Date.UTC(2024, 0, 2, 9) },
    { text: "2024-01-02T10:00:00-0530", utc: Date.UTC(2024, 0, 2, 15, 30) },
    { text: "2024-01-02T10:00+01", utc: Date.UTC(2024, 0, 2, 9) },
    { text: "2024-01-02", utc: Date.UTC(2024, 0, 2) },
    { text: "2024-02-29 23:59:59", utc: Date.UTC(2024, 1, 29, 23, 59, 59) },
    { text: "1704189600", utc: Date.UTC(2024, 0, 2, 10) },
  ];
  for (const f of formats) {
    it(`reads the timestamp ${f.text}`, () => {
      const t = parseTrace(`timestamp,value\n${f.text},1\n2030-01-01 00:00:00,1\n`);
      assert.equal(t.times[0], f.utc);
    });
  }

  const bad: { name: string; csv: string; message: RegExp }[] = [
    {
      name: "wrong header",
      csv: "time,v\n2014-07-01 00:00:00,1\n",
      message: /:1: expected the header "timestamp,value"/,
    },
    { name: "no comma", csv: "timestamp,value\n2014-07-01 00:00:00 1\n", message: /:2: expected "timestamp,value"/ },
    {
      name: "bad timestamp",
      csv: "timestamp,value\nyesterday,1\n2014-07-01 00:00:00,1\n",
      message: /:2: bad timestamp "yesterday"/,
    },
    // Date.parse read these in the machine's time zone (and guessed at day/month order): only the documented formats.
    ...["01/02/2024 10:00", "Jan 2 2024 10:00", "02 Jan 2024 10:00:00 GMT", "2024-01-02 10:00:00 +01:00", ""].map(
      (text) => ({
        name: `a timestamp in no documented format: "${text}"`,
        csv: `timestamp,value\n2024-01-01 00:00:00,1\n${text},1\n`,
        message: new RegExp(
          `^demand\\.csv:3: bad timestamp "${literal(text)}": use YYYY-MM-DD HH:MM:SS \\(read as UTC\\), ISO 8601 .* or seconds since the epoch$`,
        ),
      }),
    ),
    ...[
      "2023-02-29 00:00:00",
      "2024-13-01 00:00:00",
      "2024-01-01 24:00:00",
      "2024-01-01 10:60:00",
      "2024-01-01 10:00:60",
      "2024-01-01T10:00:00+24:00",
      "0099-01-01 00:00:00",
    ].map((text) => ({
      name: `no such date or time: "${text}"`,
      csv: `timestamp,value\n${text},1\n2030-01-01 00:00:00,1\n`,
      message: new RegExp(`^demand\\.csv:2: bad timestamp "${literal(text)}": no such date or time$`),
    })),
    {
      name: "negative value",
      csv: "timestamp,value\n2014-07-01 00:00:00,-1\n",
      message: /:2: the value must be a finite number ≥ 0/,
    },
    {
      name: "not a number",
      csv: "timestamp,value\n2014-07-01 00:00:00,abc\n",
      message: /:2: the value must be a finite number ≥ 0, got "abc"/,
    },
    {
      name: "timestamps out of order",
      csv: "timestamp,value\n2014-07-01 00:05:00,1\n2014-07-01 00:00:00,1\n",
      message: /:3: timestamps must be strictly ascending/,
    },
    {
      name: "an empty value",
      csv: "timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:05:00,\n2014-07-01 00:10:00,1\n",
      message: /^demand\.csv:3: no value$/,
    },
    {
      name: "a blank value",
      csv: "timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:05:00, \t\n2014-07-01 00:10:00,1\n",
      message: /^demand\.csv:3: no value$/,
    },
    {
      name: "a quoted empty value",
      csv: 'timestamp,value\n2014-07-01 00:00:00,1\n"2014-07-01 00:05:00",""\n2014-07-01 00:10:00,1\n',
      message: /^demand\.csv:3: no value$/,
    },
    {
      name: "epoch milliseconds",
      csv: "timestamp,value\n1704067200000,10\n1704067500000,20\n",
      message:
        /^demand\.csv:2: timestamp 1704067200000 looks like milliseconds; .*seconds since the epoch \(divide by 1000\)$/,
    },
    {
      name: "a duplicate timestamp, on the line before",
      csv: "timestamp,value\n2014-07-01 00:00:00,1\n\n2014-07-01 00:00:00,2\n2014-07-01 00:10:00,1\n",
      message: /^demand\.csv:4: duplicate timestamp 2014-07-01 00:00:00 \(also line 2\)$/,
    },
    {
      name: "a duplicate timestamp, further up and written otherwise",
      csv: "timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:05:00,1\n2014-07-01 00:10:00,1\n1404173100,2\n",
      message: /^demand\.csv:5: duplicate timestamp 1404173100 \(also line 3\)$/,
    },
    { name: "a single row", csv: "timestamp,value\n2014-07-01 00:00:00,1\n", message: /at least two data rows/ },
  ];
  for (const b of bad) {
    it(`rejects: ${b.name}`, () => {
      assert.throws(
        () => parseTrace(b.csv, "demand.csv"),
        (err: Error) => err instanceof TraceError && b.message.test(err.message),
      );
    });
  }

  it("reads epoch seconds up to 1e11 (the year 5138) as seconds", () => {
    const t = parseTrace("timestamp,value\n1704067200,1\n99999999999.5,2\n");
    assert.deepEqual([...t.times], [Date.UTC(2024, 0, 1), 99999999999500]);
  });

  it("loadTrace names a missing file", () => {
    assert.throws(
      () => loadTrace("/nonexistent/demand.csv"),
      (err: Error) => err instanceof TraceError && /cannot read trace \/nonexistent\/demand\.csv/.test(err.message),
    );
  });

  it("loadTrace reads a file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "trace-"));
    try {
      const file = path.join(dir, "d.csv");
      await writeFile(file, "timestamp,value\n2014-07-01 00:00:00,5\n2014-07-01 00:05:00,7\n");
      const t = loadTrace(file);
      assert.equal(t.name, file);
      assert.deepEqual([...t.values], [5, 7]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("sliceTrace keeps the points within [from, to)", () => {
    const t = parseTrace("timestamp,value\n0,1\n60,2\n120,3\n180,4\n");
    const s = sliceTrace(t, 60_000, 180_000);
    assert.deepEqual([...s.values], [2, 3]);
    assert.throws(() => sliceTrace(t, 0, 30_000), TraceError);
  });
});
