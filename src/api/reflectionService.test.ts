// Tests for server reflection's answers: files with their imports, symbols and methods, and NOT_FOUND.
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ProofService } from "../../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { createReflector } from "./reflectionService.js";

/** The order a FileDescriptorSet needs: each file after the files it imports. */
function dependenciesFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const out: FileDescriptorProto[] = [];
  const done = new Set<string>();
  while (out.length < files.length) {
    const next = files.find((f) => !done.has(f.name) && f.dependency.every((d) => done.has(d)));
    if (next === undefined) throw new Error("a dependency is missing from the answer");
    out.push(next);
    done.add(next.name);
  }
  return out;
}

const reflect = createReflector([SequencerService, ProofService]);
const ask = (messageRequest: Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1]) =>
  reflect(create(ServerReflectionRequestSchema, messageRequest));

describe("reflection", () => {
  it("lists the services", () => {
    expect(ask({ messageRequest: { case: "listServices", value: "" } })).toEqual({
      case: "listServicesResponse",
      value: { service: [{ name: SequencerService.typeName }, { name: ProofService.typeName }] },
    });
  });

  it("answers a method's file with every file it imports, enough to build a registry", () => {
    const a = ask({
      messageRequest: { case: "fileContainingSymbol", value: "ves.sequencer.v1.SequencerService.Append" },
    });
    if (a.case !== "fileDescriptorResponse") throw new Error(`got ${a.case}`);
    const files = (a.value.fileDescriptorProto as Uint8Array[]).map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );
    expect(files[0]?.name).toBe("ves/sequencer/v1/sequencer.proto");
    expect(files.map((f) => f.name)).toContain("google/protobuf/timestamp.proto");
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: dependenciesFirst(files) }));
    expect(registry.getService("ves.sequencer.v1.SequencerService")?.methods.map((m) => m.name)).toContain(
      "GetSequencerInfo",
    );
    expect(registry.getMessage("ves.sequencer.v1.SequencerKey")?.fields.map((f) => f.name)).toContain(
      "valid_from",
    );
  });

  it("finds files by name and messages by full name; NOT_FOUND otherwise", () => {
    expect(
      ask({ messageRequest: { case: "fileByFilename", value: "ves/sequencer/v1/proof.proto" } }).case,
    ).toBe("fileDescriptorResponse");
    expect(
      ask({ messageRequest: { case: "fileContainingSymbol", value: "ves.sequencer.v1.Event" } }).case,
    ).toBe("fileDescriptorResponse");
    for (const value of ["no.Such", "ves.sequencer.v1.SequencerService.NoSuchMethod"]) {
      expect(ask({ messageRequest: { case: "fileContainingSymbol", value } })).toMatchObject({
        case: "errorResponse",
        value: { errorCode: 5 },
      });
    }
    expect(ask({ messageRequest: { case: "fileByFilename", value: "x.proto" } })).toMatchObject({
      case: "errorResponse",
      value: { errorCode: 5, errorMessage: 'file "x.proto" not found' },
    });
    expect(ask({})).toMatchObject({ case: "errorResponse", value: { errorCode: 3 } });
  });
});
