// The engine event stream behind `--event-log`. The Automation API passes either a file path (CLI versions
// up to 3.205, one JSON event per line, tailed by the library) or `tcp://127.0.0.1:<port>` (later versions:
// a gRPC client stream to the library's pulumirpc.Events service). The stand-in reports 3.248.0-standin, so
// the library uses gRPC; the file form is kept for tools that pass a path.
import * as fs from "node:fs";
import type * as grpcTypes from "@grpc/grpc-js";

interface EventsModules {
  grpc: typeof grpcTypes;
  EventsClient: new (
    address: string,
    creds: grpcTypes.ChannelCredentials,
  ) => grpcTypes.Client & {
    streamEvents(callback: (err: grpcTypes.ServiceError | null) => void): grpcTypes.ClientWritableStream<unknown>;
  };
  EventRequest: new () => { setEvent(json: string): void };
}

/** Loaded only when an update streams events: gRPC and the protobuf code take a while to load. */
function loadEventsModules(): EventsModules {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    grpc: require("@grpc/grpc-js") as typeof grpcTypes,
    EventsClient: (require("@pulumi/pulumi/proto/events_grpc_pb") as Pick<EventsModules, "EventsClient">).EventsClient,
    EventRequest: (require("@pulumi/pulumi/proto/events_pb") as Pick<EventsModules, "EventRequest">).EventRequest,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Fields of apitype.EngineEvent the stand-in emits (see automation/events.d.ts). */
export type EngineEventBody =
  | { preludeEvent: { config: Record<string, string> } }
  | { stdoutEvent: { message: string; color: string } }
  | { diagnosticEvent: { urn?: string; prefix?: string; message: string; color: string; severity: string } }
  | { resourcePreEvent: { metadata: StepMetadata; planning?: boolean } }
  | { resOutputsEvent: { metadata: StepMetadata; planning?: boolean } }
  | { resOpFailedEvent: { metadata: StepMetadata; status: number; steps: number } }
  | {
      summaryEvent: {
        maybeCorrupt: boolean;
        durationSeconds: number;
        resourceChanges: Record<string, number>;
        policyPacks: Record<string, string>;
      };
    }
  | { cancelEvent: Record<string, never> };

export interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  provider: string;
  old?: StepState;
  new?: StepState;
  /** An update's changed input names (the engine's `diffs`). */
  diffs?: string[];
  detailedDiff?: Record<string, { diffKind: string; inputDiff: boolean }>;
}

export interface StepState {
  type: string;
  urn: string;
  custom: boolean;
  id: string;
  parent: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  provider: string;
}

export interface EventSink {
  emit(body: EngineEventBody): void;
  /** Flushes and closes the stream; the library waits for the stream's end before it resolves. */
  close(): Promise<void>;
}

export function openEventSink(target: string | undefined): EventSink {
  let sequence = 0;
  const stamp = (body: EngineEventBody): string =>
    JSON.stringify({ sequence: sequence++, timestamp: Math.floor(Date.now() / 1000), ...body });
  if (target === undefined) {
    return { emit: () => undefined, close: () => Promise.resolve() };
  }
  if (!target.startsWith("tcp://")) {
    return {
      emit: (body) => fs.appendFileSync(target, stamp(body) + "\n"),
      close: () => Promise.resolve(),
    };
  }
  const { grpc, EventsClient, EventRequest } = loadEventsModules();
  const client = new EventsClient(target.slice("tcp://".length), grpc.credentials.createInsecure());
  let finished!: Promise<void>;
  const stream = (() => {
    let resolveFinished!: () => void;
    finished = new Promise<void>((resolve) => (resolveFinished = resolve));
    // An error only means the library stopped listening (it was aborted): the CLI carries on regardless.
    return client.streamEvents(() => resolveFinished());
  })();
  stream.on("error", () => undefined);
  return {
    emit: (body) => {
      const req = new EventRequest();
      req.setEvent(stamp(body));
      stream.write(req);
    },
    close: async () => {
      stream.end();
      // Bounded: if the library has gone away, the CLI must still finish.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      client.close();
    },
  };
}
